"""A server's own DashScope key: checked with the free call at the simulator (real HTTP),
stored sealed, one active per server, retired and forgotten; on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from pydantic import SecretStr

from bot.db.database import Database
from bot.errors import UserFacingError
from bot.guilds.provider_keys import PauseOf, ProviderKeys, probe_checker
from bot.guilds.sql_keys import SqlProviderKeyRepository
from bot.guilds.vault import KeyVault
from bot.jobs.own_accounts import OwnKey, own_account_name
from bot.jobs.prober import PROBE_TASK_ID
from bot.messages import MessageKey, render
from bot.provider.accounts import fingerprint
from bot.simulator import Simulator
from tests.bot.guilds.conftest import GUILD, OTHER_GUILD
from tests.bot.guilds.rows import MovableClock, Rows

SECRET = SecretStr("operator-secret-0123456789-abcdefghijklmnop")
OPERATOR_KEY = "sk-operator-0123456789abcdef"
OWN_KEY = "sk-own-first-0123456789abcdef"
SECOND_KEY = "sk-own-second-0123456789abcdef"
ADMIN, OTHER_ADMIN = 7, 8


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    """The operator's account and two accounts a server may bring."""
    simulator = Simulator(
        accounts={"operator": [OPERATOR_KEY], "own": [OWN_KEY], "second": [SECOND_KEY]}
    )
    await simulator.start(host="127.0.0.1", port=0)
    yield simulator
    await simulator.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Calls:
    """What ProviderKeys told its wiring: changes, and secrets to redact."""

    def __init__(self) -> None:
        self.changes = 0
        self.secrets: list[str] = []

    def changed(self) -> None:
        self.changes += 1


Make = Callable[..., ProviderKeys]


@pytest.fixture
def make(
    store: Rows, simulator: Simulator, session: aiohttp.ClientSession, clock: MovableClock
) -> Callable[..., ProviderKeys]:
    def build(
        vault: KeyVault | None = KeyVault(SECRET),  # noqa: B008
        calls: Calls | None = None,
        base_url: str | None = None,
        pause_of: PauseOf | None = None,
    ) -> ProviderKeys:
        calls = calls or Calls()
        extra = {"pause_of": pause_of} if pause_of is not None else {}
        return ProviderKeys(
            SqlProviderKeyRepository(store.db),
            vault,
            check=probe_checker(session, base_url or simulator.base_url, timeout_seconds=5),
            operator_accounts={fingerprint(OPERATOR_KEY)},
            on_change=calls.changed,
            on_secret=calls.secrets.append,
            clock=clock,
            **extra,
        )

    return build


async def _rows(db: Database) -> list[dict[str, object]]:
    return await db.fetch_all("SELECT * FROM guild_provider_keys ORDER BY id")


async def _refusal(keys: ProviderKeys, key: str, guild: int = GUILD) -> UserFacingError:
    with pytest.raises(UserFacingError) as caught:
        await keys.set(guild, ADMIN, key)
    return caught.value


async def test_a_working_key_is_checked_then_stored_sealed_and_pins_the_server(
    make: Make, store: Rows, simulator: Simulator, clock: MovableClock
) -> None:
    calls = Calls()
    keys = make(calls=calls)
    before = simulator.query_count.of(PROBE_TASK_ID)
    status = await keys.set(GUILD, ADMIN, f"  {OWN_KEY}\n")  # pasted with spaces around
    assert simulator.query_count.of(PROBE_TASK_ID) == before + 1  # the free call, with the key
    account = fingerprint(OWN_KEY)
    assert (status.account_id, status.set_by, status.set_at) == (account, ADMIN, clock.now)
    assert status.usable
    assert not status.paused
    assert calls.changes == 1
    assert OWN_KEY in calls.secrets  # the logs' redactor learns it

    (row,) = await _rows(store.db)
    assert row["account_id"] == account
    assert row["retired_at"] is None
    assert OWN_KEY not in repr(row)
    assert str(row["sealed_key"]).startswith("v1:")

    name = own_account_name(GUILD, account)
    assert await keys.pinned_account(GUILD) == name
    assert await keys.pinned_account(OTHER_GUILD) is None
    assert await keys.own_account(GUILD) is True
    assert await keys.own_account(OTHER_GUILD) is False
    assert await keys.own_account_guilds() == frozenset({GUILD})
    (own,) = await keys.keys()
    assert (own.guild_id, own.account_id, own.active, own.name) == (GUILD, account, True, name)
    assert own.key.get_secret_value() == OWN_KEY
    # Another process (same EMO_SECRET_KEY, same rows) reads the same.
    assert await make().pinned_account(GUILD) == name


async def test_a_wrong_key_is_refused_with_the_providers_reason_and_nothing_is_stored(
    make: Make, store: Rows
) -> None:
    calls = Calls()
    keys = make(calls=calls)
    refusal = await _refusal(keys, "sk-nobody-knows-this-0123456789")
    assert refusal.message.key is MessageKey.PROVIDER_KEY_REFUSED
    text = render(refusal.message)
    assert "DashScope refused this key: InvalidApiKey — Invalid API-key provided." in text
    assert "sk-nobody" not in text
    assert await _rows(store.db) == []
    assert calls.changes == 0
    assert not (await keys.status(GUILD)).is_set


async def test_the_key_is_never_repeated_in_a_refusal(
    make: Make, store: Rows, simulator: Simulator
) -> None:
    # A known key (past authentication), refused with a message that echoes it.
    simulator.fail_next("query", 403, "AccessDenied", f"API-key {OWN_KEY} may not use EMO.")
    text = render((await _refusal(make(), OWN_KEY)).message)
    assert OWN_KEY not in text
    assert "DashScope refused this key: AccessDenied — API-key [redacted] may not use EMO." in text
    assert await _rows(store.db) == []


async def test_a_provider_that_cannot_answer_now_stores_nothing(
    make: Make, store: Rows, simulator: Simulator
) -> None:
    simulator.fail_next("query", 503, "ServiceUnavailable", "Try later.")
    refusal = await _refusal(make(), OWN_KEY)
    assert refusal.message.key is MessageKey.PROVIDER_KEY_UNCHECKED
    with socket.socket() as free:  # nothing listens there once it is closed
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    unreachable = make(base_url=f"http://127.0.0.1:{port}/api/v1")
    refusal = await _refusal(unreachable, OWN_KEY)
    assert refusal.message.key is MessageKey.PROVIDER_KEY_UNCHECKED
    assert await _rows(store.db) == []


@pytest.mark.parametrize(
    ("entered", "refused"),
    [
        ("", MessageKey.PROVIDER_KEY_EMPTY),
        ("   \n ", MessageKey.PROVIDER_KEY_EMPTY),
        (OWN_KEY[:10] + " " + OWN_KEY[10:], MessageKey.PROVIDER_KEY_MALFORMED),
        (OWN_KEY + "\x00", MessageKey.PROVIDER_KEY_MALFORMED),
        (OWN_KEY[:10] + "\u200b" + OWN_KEY[10:], MessageKey.PROVIDER_KEY_MALFORMED),
        ("sk-é" + OWN_KEY[4:], MessageKey.PROVIDER_KEY_MALFORMED),
        ("sk-1", MessageKey.PROVIDER_KEY_LENGTH),
        ("sk-" + "a" * 198, MessageKey.PROVIDER_KEY_LENGTH),
    ],
)
async def test_what_cannot_be_a_key_is_refused_before_any_call(
    make: Make, store: Rows, simulator: Simulator, entered: str, refused: MessageKey
) -> None:
    before = simulator.query_count.total
    refusal = await _refusal(make(), entered)
    assert refusal.message.key is refused
    assert simulator.query_count.total == before
    assert await _rows(store.db) == []


async def test_the_operators_key_and_another_servers_key_are_refused(
    make: Make, store: Rows, simulator: Simulator
) -> None:
    keys = make()
    refusal = await _refusal(keys, OPERATOR_KEY)
    assert refusal.message.key is MessageKey.PROVIDER_KEY_OPERATORS
    await keys.set(GUILD, ADMIN, OWN_KEY)
    refusal = await _refusal(keys, OWN_KEY, guild=OTHER_GUILD)
    assert refusal.message.key is MessageKey.PROVIDER_KEY_OTHER_SERVER
    # Still held once the first server cleared it: its jobs may still be finishing on it.
    await keys.clear(GUILD, ADMIN)
    refusal = await _refusal(keys, OWN_KEY, guild=OTHER_GUILD)
    assert refusal.message.key is MessageKey.PROVIDER_KEY_OTHER_SERVER
    assert [row["guild_id"] for row in await _rows(store.db)] == [GUILD]


async def test_a_new_key_retires_the_old_one_until_the_engine_forgets_it(
    make: Make, store: Rows, clock: MovableClock
) -> None:
    calls = Calls()
    keys = make(calls=calls)
    await keys.set(GUILD, ADMIN, OWN_KEY)
    clock.advance(minutes=5)
    status = await keys.set(GUILD, OTHER_ADMIN, SECOND_KEY)
    assert (status.account_id, status.set_by) == (fingerprint(SECOND_KEY), OTHER_ADMIN)
    assert calls.changes == 2
    assert await keys.pinned_account(GUILD) == own_account_name(GUILD, fingerprint(SECOND_KEY))
    by_account = {key.account_id: key for key in await keys.keys()}
    old, new = by_account[fingerprint(OWN_KEY)], by_account[fingerprint(SECOND_KEY)]
    assert (old.active, new.active) == (False, True)
    assert old.key.get_secret_value() == OWN_KEY  # its jobs finish with it

    await keys.forget(new)  # an active key is never forgotten
    await keys.forget(old)
    assert [key.account_id for key in await keys.keys()] == [fingerprint(SECOND_KEY)]


async def test_setting_a_retired_key_again_brings_its_row_back(
    make: Make, store: Rows, clock: MovableClock
) -> None:
    keys = make()
    await keys.set(GUILD, ADMIN, OWN_KEY)
    await keys.set(GUILD, ADMIN, SECOND_KEY)
    clock.advance(hours=1)
    await keys.set(GUILD, OTHER_ADMIN, OWN_KEY)  # back to the first, before it was forgotten
    await keys.set(GUILD, OTHER_ADMIN, OWN_KEY)  # and the same key twice
    rows = await _rows(store.db)
    assert len(rows) == 2  # one row per server and account: an account name is one row
    active = [row for row in rows if row["retired_at"] is None]
    assert [row["account_id"] for row in active] == [fingerprint(OWN_KEY)]
    assert (await keys.status(GUILD)).set_by == OTHER_ADMIN


async def test_clear_retires_the_key_and_the_server_is_back_on_the_shared_accounts(
    make: Make, store: Rows
) -> None:
    calls = Calls()
    keys = make(calls=calls)
    assert await keys.clear(GUILD, ADMIN) is False
    assert calls.changes == 0
    await keys.set(GUILD, ADMIN, OWN_KEY)
    assert await keys.clear(GUILD, OTHER_ADMIN) is True
    assert calls.changes == 2
    assert await keys.pinned_account(GUILD) is None
    assert await keys.own_account(GUILD) is False
    assert await keys.own_account_guilds() == frozenset()
    assert not (await keys.status(GUILD)).is_set
    (retired,) = await keys.keys()
    assert retired.active is False
    (row,) = await _rows(store.db)
    assert row["retired_by"] == OTHER_ADMIN


async def test_one_active_key_per_server_is_kept_by_the_database(
    make: Make, store: Rows, clock: MovableClock
) -> None:
    await make().set(GUILD, ADMIN, OWN_KEY)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        await store.db.execute(
            "INSERT INTO guild_provider_keys (guild_id, account_id, sealed_key, set_by, set_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (GUILD, "acct-000000000000", "v1:x", ADMIN, clock.now),
        )


async def test_without_emo_secret_key_set_is_refused_and_stored_keys_are_not_used(
    make: Make, store: Rows, caplog: pytest.LogCaptureFixture
) -> None:
    await make().set(GUILD, ADMIN, OWN_KEY)
    keys = make(vault=None)
    assert keys.available is False
    refusal = await _refusal(keys, SECOND_KEY)
    assert refusal.message.key is MessageKey.PROVIDER_KEY_NO_SECRET
    assert "EMO_SECRET_KEY" in render(refusal.message)
    assert await keys.keys() == []
    assert await keys.pinned_account(GUILD) is None
    assert await keys.own_account_guilds() == frozenset()
    status = await keys.status(GUILD)
    assert status.is_set
    assert not status.usable
    assert MessageKey.PROVIDER_KEY_STATUS_UNREADABLE in [m.key for m in status.messages()]
    assert await keys.clear(GUILD, ADMIN) is True


async def test_another_emo_secret_key_leaves_the_key_unusable_and_says_so_once(
    make: Make, store: Rows, caplog: pytest.LogCaptureFixture
) -> None:
    await make().set(GUILD, ADMIN, OWN_KEY)
    (row,) = await _rows(store.db)
    keys = make(vault=KeyVault(SecretStr("a-different-operator-secret-0123456789abcdef")))
    with caplog.at_level(logging.WARNING, logger="bot.guilds.provider_keys"):
        assert await keys.keys() == []
        assert await keys.pinned_account(GUILD) is None
        assert await keys.own_account(GUILD) is False
        assert not (await keys.status(GUILD)).usable
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "EMO_SECRET_KEY" in warnings[0]
    assert str(row["sealed_key"])[3:15] not in warnings[0]
    # Set again under the new secret: usable at once.
    await keys.set(GUILD, ADMIN, OWN_KEY)
    assert await keys.pinned_account(GUILD) is not None


async def test_status_says_when_the_engine_paused_the_account(make: Make, store: Rows) -> None:
    asked: list[str] = []

    async def paused(name: str) -> str | None:
        asked.append(name)
        return "Arrearage"

    keys = make(pause_of=paused)
    await keys.set(GUILD, ADMIN, OWN_KEY)
    status = await keys.status(GUILD)
    assert asked[-1] == own_account_name(GUILD, fingerprint(OWN_KEY))
    assert (status.paused, status.pause_code) == (True, "Arrearage")
    said = [render(m) for m in status.messages()]
    assert fingerprint(OWN_KEY) in said[0]
    assert "Arrearage" in said[1]
    assert all(OWN_KEY not in text for text in said)


def test_an_own_key_is_named_after_its_server_and_account() -> None:
    key = OwnKey(GUILD, fingerprint(OWN_KEY), SecretStr(OWN_KEY), active=True)
    assert key.name == f"own-{GUILD}-{fingerprint(OWN_KEY)}"
    assert OWN_KEY not in key.name
    assert OWN_KEY not in repr(key)
