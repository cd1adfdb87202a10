"""The database layer: the one owner of connections, transactions and the migration runner.

Each package owns its tables, its SQL and its migrations in a repository module; this layer
knows none of them.
"""

from bot.db.database import Connection, Database, DatabaseUnavailableError, Row, StaleRowError
from bot.db.migrations import Schema

__all__ = ["Connection", "Database", "DatabaseUnavailableError", "Row", "Schema", "StaleRowError"]
