"""What both Discord extensions use: the member's language, Discord's markup, who is asking,
and administration's reports as text."""
