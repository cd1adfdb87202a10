"""Server administration: per-server settings, quotas and budgets, usage, audit, retention.

Like the rest of ``bot``, it knows nothing of Discord: the edge (``cogs/admin``,
``cogs/emo/privacy.py``) passes plain ids and a ``Viewer`` and renders what comes back.
"""
