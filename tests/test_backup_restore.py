"""Backups under load and a restore, with the real bot (`python -m bot`), the fake Discord
and the DashScope simulator.

Jobs move through their states while `python -m bot backup` runs, several times; every copy
passes `PRAGMA integrity_check` and holds every row committed before its backup began.
`restore` is refused while the bot runs; once it stopped (its last line says how many jobs
will resume), the restore works and the restarted bot carries the restored jobs to the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.simulator import Simulator
from bot.simulator.faces import load_cascade
from tests.conftest import BotFactory
from tests.fake_discord import FakeDiscord
from tests.support.e2e import attachments, started, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FINAL = frozenset({"delivered", "rejected", "failed", "canceled", "expired"})
Event = tuple[int, int, str]  # job_events: id, job, state entered


def _read(path: Path, sql: str) -> list[tuple[object, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as db:
        return list(db.execute(sql).fetchall())


def _events(path: Path) -> set[Event]:
    rows = _read(path, "SELECT id, job_id, to_state FROM job_events")
    return {(int(str(a)), int(str(b)), str(c)) for a, b, c in rows}


def _states(path: Path) -> dict[int, str]:
    return {int(str(a)): str(b) for a, b in _read(path, "SELECT id, state FROM jobs")}


async def test_backups_under_load_a_refused_then_working_restore_and_the_jobs_resume(
    bot_process: BotFactory,
    discord_fake: FakeDiscord,
    simulator: Simulator,
    fixtures: Path,
    tmp_path: Path,
) -> None:
    simulator.update_knobs(render_overhead_seconds=2.5)  # six renders in a row: about 20 s
    load_cascade()  # OpenCV's first import is not thread-safe: six first detections would race
    # A fixed name: the restarted process takes back at once what the copy says it held.
    bot = bot_process(EMO_INSTANCE_NAME="restore-test", EMO_HTTP_TIMEOUT_SECONDS="5")
    live = Path(bot.environment["EMO_DATA_DIR"]) / "emo-bot.sqlite3"
    await started(bot, discord_fake)
    for name in ("ana", "ben", "cai"):
        member = discord_fake.add_member(name=name)
        for _ in range(2):
            await discord_fake.invoke_slash(
                "emo animate", user_id=member, attachments=attachments(fixtures)
            )
    await until(lambda: any(s == "submitted" for *_, s in _events(live)), "a first submit")

    # --- backups while the jobs move --------------------------------------------------------
    copies: list[Path] = []
    moved_during = []
    for number in range(3):
        copy = tmp_path / f"backup-{number}.sqlite3"
        committed = _events(live)  # a reader of its own sees committed rows only
        status, out, err = await bot.run("backup", str(copy))
        assert status == 0, err
        assert out.startswith(f"Backed up {live} to {copy}: "), out
        during = _events(live) - committed  # written while the command ran
        moved_during.append(len(during))
        assert _read(copy, "PRAGMA integrity_check") == [("ok",)]
        copied = _events(copy)
        assert committed <= copied, sorted(committed - copied)
        assert copied <= _events(live)
        copies.append(copy)
        await asyncio.sleep(1.5)
    assert sum(moved_during) > 0, "the jobs never moved while a backup ran"
    histories = [_states(copy) for copy in copies]
    assert len({tuple(sorted(h.items())) for h in histories}) > 1  # each a different moment

    # --- restore: refused while the bot runs --------------------------------------------------
    before = _events(live)
    status, out, err = await bot.run("restore", str(copies[0]))
    assert status == 1
    assert err.strip() == (
        f"Restore refused: a bot process is running on {live.parent} (it holds "
        f"{live.parent / 'emo-bot.lock'}): stop it first. Nothing was changed."
    )
    assert before <= _events(live)  # untouched: the bot went on writing to it
    assert list(live.parent.glob("*.before-restore-*")) == []

    # --- a clean stop says how many jobs will resume ------------------------------------------
    assert await bot.stop(signal.SIGTERM, grace=10.0) == 0
    last = bot.log_text().strip().splitlines()[-1]
    left = _count_unfinished(live)
    total = sum(left.values())
    if total:
        listed = ", ".join(f"{n} {s}" for s, n in sorted(left.items()))
        noun = "job" if total == 1 else "jobs"
        expected = f"unfinished jobs resume on the next start: {total} {noun} ({listed})"
    else:
        expected = "unfinished jobs resume on the next start (there are none)"
    assert re.search(r"stopped by signal in \d+\.\d\d s; ", last), last
    assert last.endswith(expected), last

    # --- restore once it stopped, and the restored jobs carry on ------------------------------
    restored = copies[0]
    in_copy = _states(restored)
    unfinished = {job for job, state in in_copy.items() if state not in FINAL}
    assert unfinished, f"the first backup caught no job on its way: {in_copy}"
    status, out, err = await bot.run("restore", str(restored))
    assert status == 0, err
    assert out.startswith(f"Restored {restored} into {live} ("), out
    assert _events(live) == _events(restored)
    assert len(list(live.parent.glob("emo-bot.sqlite3.before-restore-*"))) == 1

    connected = discord_fake.identify_count + discord_fake.resume_count
    await bot.start()
    await discord_fake.wait_for_identify(timeout=60, count=connected + 1)
    try:
        await until(
            lambda: all(state in FINAL for state in _states(live).values()),
            "every restored job to end",
            within=150,
        )
    except BaseException:
        print(bot.log_text()[-4000:])
        raise
    ended = _states(live)
    for job in unfinished:
        # A submit whose answer the copy never saw may not be taken for ours: the engine
        # never risks a second charge, and says so to the member instead.
        allowed = {"delivered", "failed"} if in_copy[job] == "submitting" else {"delivered"}
        assert ended[job] in allowed, (job, in_copy[job], ended[job])
    assert "Traceback" not in bot.log_text()
    print(
        f"backups: {len(copies)}, events written while each ran: {moved_during}; "
        f"restored {len(in_copy)} jobs ({len(unfinished)} unfinished: "
        f"{sorted(in_copy[j] for j in unfinished)}), ended {sorted(ended.values())}; "
        f"stop line: {last.split(': ', 1)[-1]}"
    )


def _count_unfinished(path: Path) -> dict[str, int]:
    rows = _read(path, "SELECT state, count(*) FROM jobs GROUP BY state")
    return {str(s): int(str(n)) for s, n in rows if str(s) not in FINAL}
