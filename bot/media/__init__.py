"""Media work: bounded downloads, audio and image preparation, re-hosting for the provider."""
