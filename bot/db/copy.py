"""``python -m bot copy-db``: move a single-process install from its SQLite file to PostgreSQL.

The file is held in SQLite's exclusive locking mode (no other process, not even an idle bot,
has it open meanwhile); both sides are migrated; every table both hold is copied in one
PostgreSQL transaction, parents first, in batches, typed as the target's columns. Jobs in
flight are copied as they are; per-process leases are left behind, so the new processes take
the work over at once; identity sequences go past every id the file ever handed out.
"""

from __future__ import annotations

import contextlib
import graphlib
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import aiosqlite
import psycopg
from psycopg.conninfo import conninfo_to_dict

from bot.db.database import (
    Connection,
    Database,
    DatabaseStartError,
    DatabaseUnavailableError,
    Row,
)
from bot.db.meta import MetaStore
from bot.db.migrations import Schema, SchemaTooNewError, migrate
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import SqliteDatabase

log = logging.getLogger(__name__)

BATCH_ROWS = 500  # rows per INSERT: memory stays bounded whatever the file's size
MAX_PARAMS = 30_000  # PostgreSQL takes at most 65,535 parameters in one statement
ROWID = "copy_rowid"
SKIPPED_TABLES = frozenset({"schema_versions"})  # the target's own migrations wrote it
# Per-process state, named here without importing its owners: the leases table's rows (the
# duties each process holds) are left behind, and so are the jobs' lease columns.
PER_PROCESS_TABLES = frozenset({"leases"})
PER_PROCESS_COLUMNS: Mapping[str, frozenset[str]] = {
    "jobs": frozenset({"lease_owner", "lease_until"})
}
_INTEGERS = frozenset({"smallint", "integer", "bigint"})
_FLOATS = frozenset({"real", "double precision", "numeric"})
_TEXTS = frozenset({"text", "character varying", "character"})  # JSON is text on both


MOVED_KEY = "database_moved_to"
"""Written into the SQLite file's meta table once its rows are in PostgreSQL."""


class DatabaseMovedError(DatabaseStartError):
    """A bot was started on a SQLite file that copy-db moved to PostgreSQL: running its jobs
    from the file as well would submit and post them twice."""

    def __init__(self, note: str) -> None:
        super().__init__(
            f"this SQLite database was moved to PostgreSQL ({note}) by copy-db: set "
            "EMO_DATABASE_URL to that database (a bot on this file would run its jobs twice)"
        )
        self.note = note


async def refuse_if_moved(db: Database) -> None:
    """Raise DatabaseMovedError when ``db`` (a SQLite file) was moved by copy-db."""
    note = await MetaStore(db).get(MOVED_KEY)
    if note is not None:
        raise DatabaseMovedError(note)


class CopyError(RuntimeError):
    """The copy was refused or failed: one line for the operator, no secret in it."""

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class TableCopy:
    name: str
    rows: int
    note: str = ""


@dataclass(frozen=True)
class CopyReport:
    source: Path
    target: str  # the URL without its password
    tables: tuple[TableCopy, ...]
    seconds: float

    def lines(self) -> list[str]:
        head = f"Copied {self.source} to {self.target} in {self.seconds:.1f} s:"
        rows = [f"  {t.name}: {t.rows} rows{f' ({t.note})' if t.note else ''}" for t in self.tables]
        tail = "Start the bot with EMO_DATABASE_URL set to it; do not start it on the file again."
        return [head, *rows, tail]


@dataclass(frozen=True)
class _Table:
    name: str
    types: dict[str, str]  # column -> PostgreSQL data type, in the target's order
    identity: list[str]  # columns whose values a sequence generates


def secrets_in(url: str) -> list[str]:
    """The URL's password, as written and decoded: what output must never show."""
    found: set[str] = set()
    with contextlib.suppress(ValueError):
        found.add(urlsplit(url).password or "")
    with contextlib.suppress(psycopg.Error):
        found.add(str(conninfo_to_dict(url).get("password") or ""))  # ?password=… too
    return sorted({value for p in found for value in (p, unquote(p)) if value})


def display_url(url: str) -> str:
    """The URL without its password (user, host, port and database stay)."""
    parts = urlsplit(url)
    userinfo, at, host = parts.netloc.rpartition("@")
    return f"{parts.scheme}://{userinfo.partition(':')[0]}{at}{host}{parts.path}"


async def copy_database(
    sqlite_path: Path,
    url: str,
    schemas: Sequence[Schema],
    *,
    busy_timeout: float = 2.0,
    batch_rows: int = BATCH_ROWS,
) -> CopyReport:
    """Copy the bot's SQLite file into the empty PostgreSQL database at ``url``."""
    secrets = sorted(secrets_in(url), key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "***")
        return text

    started = time.monotonic()
    try:
        target = display_url(url)
        if not url.startswith(("postgresql://", "postgres://")):
            raise CopyError("POSTGRES_URL must be a postgresql:// URL")
        tables = await _copy(sqlite_path, url, schemas, busy_timeout, batch_rows)
    except CopyError as error:
        raise CopyError(redact(str(error)), exit_code=error.exit_code) from None
    except DatabaseUnavailableError as error:
        message = f"cannot reach PostgreSQL at {target} ({error})"
        raise CopyError(redact(message), exit_code=2) from None
    except (psycopg.Error, sqlite3.Error, ValueError) as error:
        first = (str(error).splitlines() or [""])[0]
        message = f"copy failed, nothing was copied: {type(error).__name__}: {first}"
        raise CopyError(redact(message)) from None
    report = CopyReport(sqlite_path, target, tuple(tables), time.monotonic() - started)
    log.info("copy-db: %d rows copied in %.1f s", sum(t.rows for t in tables), report.seconds)
    return report


async def _copy(
    path: Path, url: str, schemas: Sequence[Schema], busy_timeout: float, batch_rows: int
) -> list[TableCopy]:
    source = await _open_sqlite(path, busy_timeout)
    try:
        target = await PostgresDatabase.open(url, max_connections=2)
        try:
            for db, where in ((source, str(path)), (target, "PostgreSQL")):
                try:
                    await migrate(db, schemas)
                except SchemaTooNewError as error:
                    raise CopyError(f"{where}: {error}") from None
            async with source.transaction() as reader, target.transaction() as writer:
                tables = await _copy_tables(reader, writer, batch_rows)
            # PostgreSQL holds every row now: a bot started on the file again must refuse.
            moved = f"{display_url(url)} on {datetime.now(UTC).isoformat(timespec='seconds')}"
            try:
                await MetaStore(source).set(MOVED_KEY, moved)
            except sqlite3.Error as error:
                raise CopyError(
                    f"copied, but {path} could not be marked as moved ({error}): do not start "
                    "a bot on it again"
                ) from None
            return tables
        finally:
            await target.close()
    finally:
        await source.close()


async def _open_sqlite(path: Path, busy_timeout: float) -> Database:
    """The bot's file, held exclusively (refused while any other process has it open)."""
    connection = await aiosqlite.connect(_existing(path), uri=True, isolation_level=None)
    run = connection.execute_fetchall
    try:
        connection.row_factory = aiosqlite.Row
        # Set before the first read: a WAL file is then opened without shared memory, which
        # takes the file's exclusive lock, held until the connection closes.
        await run("PRAGMA locking_mode=EXCLUSIVE")
        await run(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        await run("PRAGMA foreign_keys=ON")
        try:
            await run("BEGIN EXCLUSIVE")
            names = {str(row[0]) for row in await run("SELECT name FROM sqlite_master")}
            legacy = next(iter(await run("PRAGMA user_version")))[0]
            await run("COMMIT")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) and "busy" not in str(error):
                raise
            raise CopyError(f"{path} is in use by another process: stop the bot first") from None
        except sqlite3.DatabaseError:
            raise CopyError(f"{path} is not an emo-bot database (not SQLite)") from None
        if "schema_versions" not in names and not ("jobs" in names and legacy):
            raise CopyError(f"{path} is not an emo-bot database (it has no bot tables)")
    except BaseException:
        await connection.close()
        raise
    return SqliteDatabase(connection, connection)  # one connection: the one holding the lock


def _existing(path: Path) -> str:
    """The file's URI, opened read-write and never created."""
    if not path.is_file():
        raise CopyError(f"{path}: no such file (the bot's is EMO_DATA_DIR/emo-bot.sqlite3)")
    return f"file:{quote(str(path.resolve()))}?mode=rw"


async def _copy_tables(reader: Connection, writer: Connection, batch_rows: int) -> list[TableCopy]:
    tables, source = await _target_tables(writer), await _source_tables(reader)
    for name, columns in sorted(source.items()):
        missing = sorted(columns - set(tables[name].types)) if name in tables else []
        if name not in tables or missing:
            what = f"columns {', '.join(missing)}" if missing else "the table"
            raise CopyError(f"{name}: {what} only in the SQLite file; refusing to leave rows out")
    order = await _parents_first(writer, sorted(source))
    # Writers on the target (a bot started early) wait, or make this fail, never interleave.
    await writer.execute("SET LOCAL lock_timeout = '10s'")
    await writer.execute(f"LOCK TABLE {', '.join(map(_q, order))} IN EXCLUSIVE MODE")
    if held := [n for n in sorted(order) if await _count(writer, n, limit=1)]:
        raise CopyError(
            f"PostgreSQL already holds rows ({', '.join(held)}): copy into a new, empty "
            "database (two installs are never merged)"
        )
    used: dict[str, int] = {}  # the largest id each AUTOINCREMENT table ever handed out
    if await reader.fetch_one("SELECT 1 AS x FROM sqlite_master WHERE name = 'sqlite_sequence'"):
        seqs = await reader.fetch_all("SELECT name, seq FROM sqlite_sequence")
        used = {str(row["name"]): int(row["seq"]) for row in seqs}
    copied: list[TableCopy] = []
    for name in order:
        count = await _count(reader, name)
        if name in PER_PROCESS_TABLES:
            copied.append(TableCopy(name, 0, f"{count} per-process rows left behind"))
            continue
        types = {c: kind for c, kind in tables[name].types.items() if c in source[name]}
        table = _Table(name, types, [c for c in tables[name].identity if c in types])
        rows = await _copy_table(reader, writer, table, batch_rows)
        if rows != count or await _count(writer, name) != count:
            raise CopyError(f"{name}: {count} rows in the file, {rows} copied; nothing was kept")
        for column in table.identity:
            await _reset_sequence(writer, name, column, used.get(name, 0))
        cleared = sorted(PER_PROCESS_COLUMNS.get(name, frozenset()) & set(types))
        copied.append(TableCopy(name, rows, f"{', '.join(cleared)} cleared" if cleared else ""))
    return copied


async def _target_tables(writer: Connection) -> dict[str, _Table]:
    rows = await writer.fetch_all(
        "SELECT table_name, column_name, data_type, is_identity, column_default"
        " FROM information_schema.columns WHERE table_schema = current_schema()"
        " ORDER BY table_name, ordinal_position"
    )
    tables: dict[str, _Table] = {}
    for row in rows:
        name, column = str(row["table_name"]), str(row["column_name"])
        table = tables.setdefault(name, _Table(name, {}, []))
        table.types[column] = str(row["data_type"])
        if row["is_identity"] == "YES" or str(row["column_default"]).startswith("nextval("):
            table.identity.append(column)
    return tables


async def _source_tables(reader: Connection) -> dict[str, set[str]]:
    rows = await reader.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    names = [str(r["name"]) for r in rows if not str(r["name"]).startswith("sqlite_")]
    info = {name: await reader.fetch_all(f"PRAGMA table_info({_q(name)})") for name in names}
    return {n: {str(c["name"]) for c in info[n]} for n in names if n not in SKIPPED_TABLES}


async def _parents_first(writer: Connection, names: Sequence[str]) -> list[str]:
    """The tables in an order that satisfies the target's foreign keys (a table that refers
    to itself is copied in rowid order: a row refers to an older one)."""
    rows = await writer.fetch_all(
        "SELECT c.relname AS child, p.relname AS parent FROM pg_constraint k"
        " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid"
        " WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace"
    )
    graph: dict[str, set[str]] = {name: set() for name in names}
    for row in rows:
        child, parent = str(row["child"]), str(row["parent"])
        if child in graph and parent in graph and child != parent:
            graph[child].add(parent)
    try:
        return list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        raise CopyError(f"foreign keys form a cycle: {error.args[1]}") from None


async def _count(connection: Connection, name: str, limit: int | None = None) -> int:
    rows = f"SELECT 1 AS x FROM {_q(name)}" + (f" LIMIT {limit}" if limit else "")
    row = await connection.fetch_one(f"SELECT COUNT(*) AS n FROM ({rows}) AS t")
    return int(row["n"]) if row else 0


async def _copy_table(reader: Connection, writer: Connection, table: _Table, batch: int) -> int:
    columns = list(table.types)
    names = ", ".join(map(_q, columns))
    cleared = PER_PROCESS_COLUMNS.get(table.name, frozenset())
    per_batch = max(1, min(batch, MAX_PARAMS // len(columns)))
    marks = "(" + ", ".join("?" for _ in columns) + ")"
    overriding = " OVERRIDING SYSTEM VALUE" if table.identity else ""
    select = (
        f"SELECT rowid AS {ROWID}, {names} FROM {_q(table.name)}"
        f" WHERE ? IS NULL OR rowid > ? ORDER BY rowid LIMIT {per_batch}"
    )
    last: int | None = None
    total = 0
    while rows := await reader.fetch_all(select, (last, last)):
        values = [
            None if c in cleared else _convert(row[c], table.types[c], table.name, c, row)
            for row in rows
            for c in columns
        ]
        await writer.execute(
            f"INSERT INTO {_q(table.name)} ({names}){overriding}"
            f" VALUES {', '.join([marks] * len(rows))}",
            values,
        )
        total += len(rows)
        last = int(rows[-1][ROWID])
        log.debug("copy-db: %s: %d rows so far", table.name, total)
    return total


async def _reset_sequence(writer: Connection, name: str, column: str, used: int) -> None:
    """The next generated id: past every id copied and every id the file ever used."""
    row = await writer.fetch_one(f"SELECT COALESCE(MAX({_q(column)}), 0) AS top FROM {_q(name)}")
    top = max(int(row["top"]) if row else 0, used)
    await writer.execute(
        "SELECT setval(pg_get_serial_sequence(?, ?), ?, false)", (_q(name), column, top + 1)
    )


def _convert(value: object, pg_type: str, table: str, column: str, row: Row) -> object:
    """A SQLite value as the PostgreSQL column holds it (SQLite keeps moments as ISO text in
    UTC and booleans as 0/1); anything unexpected stops the copy rather than bend a value."""
    if value is None:
        return None
    if pg_type == "timestamp with time zone" and isinstance(value, str):
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    if pg_type == "boolean" and isinstance(value, int) and value in (0, 1):
        return bool(value)
    if pg_type in _INTEGERS and isinstance(value, int):
        return value
    if pg_type in _FLOATS and isinstance(value, (int, float)):
        return float(value)
    if pg_type in _TEXTS and isinstance(value, str):
        return value
    raise CopyError(
        f"{table}.{column} (row {row[ROWID]}): cannot store {type(value).__name__} as {pg_type}"
    )


def _q(identifier: str) -> str:
    """A quoted identifier (names come from the catalogs, never from input)."""
    return '"' + identifier.replace('"', '""') + '"'
