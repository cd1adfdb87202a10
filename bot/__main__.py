"""``python -m bot``: start the bot, or run one job from the command line.

The settings are built here, once, and passed down.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
from collections.abc import Sequence

from pydantic import SecretStr

from bot.logs import configure_logging
from bot.provider.accounts import file_keys
from bot.settings import Settings, SettingsError, load_discord_login, load_settings

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_RESTART = 1  # worth starting again: a supervisor does (Discord unreachable, a crash)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    from bot import cli

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="Discord bot: portrait + voice note -> talking-head video (DashScope EMO).",
    )
    commands = parser.add_subparsers(
        dest="command",
        metavar="{run,animate,resume-provider,sync-commands,invite,doctor,migrate,copy-db,backup,"
        "restore}",
    )
    commands.add_parser("run", help="start the bot (the default)")
    commands.add_parser(
        "invite", help="print the link that adds the bot to a server, with the permissions it needs"
    )
    commands.add_parser(
        "migrate", help="bring the database's tables up to date now (start-up does it too)"
    )
    sync = commands.add_parser(
        "sync-commands", help="register the slash commands now (globally, or in one server)"
    )
    sync.add_argument(
        "--guild", type=int, default=None, help="a server id: instant, that server only"
    )
    commands.add_parser(
        "resume-provider",
        help="resume submissions paused by a provider account problem (after fixing it)",
    )
    commands.add_parser(
        "doctor",
        help="check the token, key, media host and permissions; print a fix for each failure",
    )
    copy_db = commands.add_parser(
        "copy-db", help="move a stopped SQLite install to an empty PostgreSQL database"
    )
    copy_db.add_argument("sqlite_file", metavar="SQLITE_FILE")
    copy_db.add_argument("postgres_url", metavar="POSTGRES_URL")
    backup = commands.add_parser(
        "backup", help="copy the SQLite database to FILE, consistently, while the bot runs"
    )
    backup.add_argument("file", metavar="FILE")
    restore = commands.add_parser(
        "restore", help="replace the SQLite database with the backup FILE (the bot stopped)"
    )
    restore.add_argument("file", metavar="FILE")
    animate = commands.add_parser(
        "animate", help="make one video from local files, without Discord"
    )
    cli.add_arguments(animate)
    return parser.parse_args(argv)


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the logs must never show: each SecretStr setting, and the database
    URL's password as written and decoded."""
    found = [
        value.get_secret_value()
        for name in Settings.model_fields
        if isinstance(value := getattr(settings, name), SecretStr)
    ]
    # Each account's key on its own too: a log line may show one key of a comma-separated list.
    if settings.dashscope_api_key is not None:
        found.extend(
            part.strip() for part in settings.dashscope_api_key.get_secret_value().split(",")
        )
    if settings.dashscope_accounts_file is not None:
        found.extend(file_keys(settings.dashscope_accounts_file))
    if settings.database_url:
        from bot.db.copy import secrets_in  # never raises, even on a malformed URL

        found += secrets_in(settings.database_url)
    return [value for value in dict.fromkeys(found) if value]


def _secrets_in_environment() -> list[str]:
    """Before the settings are read: the values of the secret variables in the environment."""
    names = {
        name.upper()
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    }
    found = [value for key, value in os.environ.items() if key.upper() in names]
    # Each key of a comma-separated DASHSCOPE_API_KEY on its own too.
    return [*found, *(part.strip() for value in found for part in value.split(",") if part.strip())]


def _database_unreachable(error: Exception) -> int:
    """One line, no traceback: the operator fixes the URL or starts the database."""
    print(
        f"Database error: cannot reach the database in EMO_DATABASE_URL ({error})",
        file=sys.stderr,
    )
    return EXIT_CONFIG


def _database_refused(error: Exception) -> int:
    """A database that cannot be used as it is (read-only, full, damaged, newer, moved):
    one line naming the problem and what to do, no traceback."""
    print(f"Database error: {error}", file=sys.stderr)
    return EXIT_CONFIG


def _configure_logging(settings: Settings, level: str) -> None:
    configure_logging(level, json_lines=settings.emo_log_json, secrets=secrets_of(settings))


async def _serve(settings: Settings) -> int:
    # Imported here so a configuration error is reported without loading discord.py.
    from bot.core import open_core
    from bot.db import lock
    from bot.db.database import DatabaseStartError, DatabaseUnavailableError
    from bot.startup import StartupGaveUpError, stop_summary, unfinished_jobs
    from bot.wiring import TokenRejectedError, run_bot

    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    stop_asked: list[float] = []

    def stop() -> None:
        stop_asked.append(loop.time())
        main_task.cancel()

    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        # Cancelling unwinds every context: shielded row writes finish, the database closes.
        loop.add_signal_handler(stop_signal, stop)
    unfinished: dict[str, int] | None = None
    try:
        # The data directory's lock keeps `restore` out while this process runs.
        async with lock.holding(settings.emo_data_dir), open_core(settings) as core:
            try:
                await run_bot(core)
            except asyncio.CancelledError:
                unfinished = await unfinished_jobs(core.jobs)  # everything has stopped
                raise
    except TokenRejectedError:
        print(
            "Configuration error: DISCORD_TOKEN was rejected by Discord (see .env.example)",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    except DatabaseUnavailableError as error:
        return _database_unreachable(error)
    except DatabaseStartError as error:
        return _database_refused(error)
    except StartupGaveUpError:
        return EXIT_RESTART  # its last line said why
    except asyncio.CancelledError:
        took = loop.time() - stop_asked[0] if stop_asked else 0.0
        log.info("stopped by signal in %.2f s; %s", took, stop_summary(unfinished))
    except Exception:
        reference = secrets.token_hex(4)
        log.exception("the bot stopped on an unexpected error (reference %s)", reference)
        return EXIT_RESTART
    return 0


async def _sync_commands(settings: Settings, guild_id: int | None) -> int:
    from bot.core import open_core
    from bot.db.database import DatabaseStartError
    from bot.wiring import TokenRejectedError, sync_commands

    quiet = settings.model_copy(update={"emo_ops_bind": "off"})  # no server for a one-off
    try:
        async with open_core(quiet) as core:
            count = await sync_commands(core, guild_id)
    except TokenRejectedError:
        print("Configuration error: DISCORD_TOKEN was rejected by Discord (see .env.example)")
        return EXIT_CONFIG
    except DatabaseStartError as error:
        return _database_refused(error)
    where = f"in server {guild_id}" if guild_id else "globally (may take up to an hour to show)"
    print(f"Registered {count} commands {where}.")
    return 0


def _invite() -> int:
    """Needs only DISCORD_TOKEN (and DISCORD_API_BASE_URL for a Discord-compatible server)."""
    from bot.invite import print_invite

    try:
        login = load_discord_login()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    configure_logging("warning", secrets=[login.discord_token.get_secret_value()])
    return asyncio.run(print_invite(login))


async def _migrate(settings: Settings) -> int:
    from bot.core import SCHEMAS, connect_database
    from bot.db.database import DatabaseStartError, DatabaseUnavailableError
    from bot.db.failures import diagnosed
    from bot.db.migrations import migrate

    try:
        db = await connect_database(settings)
    except DatabaseUnavailableError as error:
        return _database_unreachable(error)
    except DatabaseStartError as error:
        return _database_refused(error)
    try:
        with diagnosed(settings.database_path if settings.database_url is None else None):
            reached = await migrate(db, SCHEMAS)
    except DatabaseStartError as error:
        return _database_refused(error)
    finally:
        await db.close()
    versions = ", ".join(f"{name} v{version}" for name, version in sorted(reached.items()))
    print(f"Database up to date ({db.dialect}): {versions}.")
    return 0


async def _resume_provider(settings: Settings) -> int:
    """Lift the pause for every bot process sharing the database (they read it from there)."""
    from bot.core import open_database
    from bot.db.database import DatabaseStartError
    from bot.db.meta import MetaStore
    from bot.jobs.gate import ProviderGate
    from bot.jobs.pool import provider_accounts
    from bot.provider.accounts import slot_name

    accounts = provider_accounts(settings)  # each account pauses alone: resume every one
    try:
        async with open_database(settings) as db:
            meta = MetaStore(db)
            resumed = [
                await ProviderGate(meta, slot_name(account, accounts), account.label).resume(
                    "command line"
                )
                for account in accounts
            ]
    except DatabaseStartError as error:
        return _database_refused(error)
    print("Submissions resumed." if any(resumed) else "Submissions were not paused.")
    return 0


async def _copy_db(source: str, url: str) -> int:
    """SQLite to PostgreSQL, jobs in flight included; needs no settings."""
    from pathlib import Path

    from bot.core import SCHEMAS
    from bot.db.copy import CopyError, copy_database, secrets_in

    configure_logging("error", secrets=secrets_in(url))
    try:
        report = await copy_database(Path(source), url, SCHEMAS)
    except CopyError as error:
        print(f"copy-db: {error}", file=sys.stderr)
        return error.exit_code
    print("\n".join(report.lines()))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    # Every file and folder the bot creates is its own (0600, 0700): the database, its
    # journals, media, backups.
    os.umask(0o077)
    # Redacted from the first line on: a traceback, a warning or a print before the settings
    # are read goes through the same redaction (the secrets in the environment).
    configure_logging("warning", secrets=_secrets_in_environment())
    args = _parse_args(argv)
    command = args.command or "run"
    if command == "copy-db":
        return asyncio.run(_copy_db(args.sqlite_file, args.postgres_url))
    if command == "invite":
        return _invite()
    overrides: dict[str, object] = {}
    if command == "animate" and args.simulate:
        overrides["emo_provider"] = "simulator"
    try:
        needs_discord = command in ("run", "sync-commands", "doctor")
        settings = load_settings(require_discord=needs_discord, **overrides)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return EXIT_CONFIG
    _configure_logging(settings, "warning")  # every secret known now, those in .env too
    if command == "sync-commands":
        _configure_logging(settings, "warning")
        return asyncio.run(_sync_commands(settings, args.guild))
    if command == "doctor":
        from bot.doctor import run_doctor

        _configure_logging(settings, "warning")
        return asyncio.run(run_doctor(settings))
    if command == "resume-provider":
        return asyncio.run(_resume_provider(settings))
    if command in ("backup", "restore"):
        from bot import backups

        run = backups.run_backup if command == "backup" else backups.run_restore
        return run(settings, args.file)
    if command == "migrate":
        _configure_logging(settings, "warning")
        return asyncio.run(_migrate(settings))
    if command == "animate":
        from bot import cli

        # The command line shows its own progress; only errors go to the log.
        _configure_logging(settings, "error")
        try:
            return cli.run(settings, args)
        except KeyboardInterrupt:
            return 130
    _configure_logging(settings, settings.emo_log_level)
    try:
        return asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
