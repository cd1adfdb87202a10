"""Status cards: one message per job, kept in step with its row.

The core decides what a card says and when it is behind (``lines``, ``keeper``) and owns the
table of the messages shown about each job (``sql``); the edge only posts and edits
(``CardSurface``).
"""
