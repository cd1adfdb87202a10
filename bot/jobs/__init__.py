"""Jobs: their states, their rows, where they are stored, and the service that runs them."""
