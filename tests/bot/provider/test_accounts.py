"""The operator's accounts: one key, several comma-separated keys, or a TOML file."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.__main__ import secrets_of
from bot.provider.accounts import (
    AccountsError,
    accounts_from_file,
    accounts_from_keys,
    fingerprint,
)
from bot.settings import Settings


def test_comma_separated_keys_are_separate_accounts_with_fingerprint_ids() -> None:
    accounts = accounts_from_keys(" sk-one , sk-two,,sk-one", concurrency=1, lookahead=2)
    assert [a.id for a in accounts] == [fingerprint("sk-one"), fingerprint("sk-two")]
    assert [a.key.get_secret_value() for a in accounts] == ["sk-one", "sk-two"]
    assert all(a.id.startswith("acct-") and "sk-" not in a.id for a in accounts)
    assert all(a.label == a.id and a.capacity == 3 for a in accounts)
    assert "sk-one" not in repr(accounts)
    with pytest.raises(AccountsError):
        accounts_from_keys(" , ", concurrency=1, lookahead=1)


def test_the_file_gives_labels_slots_and_enabled(tmp_path: Path) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(
        '[[account]]\nlabel = "main"\nkey = "sk-a"\nconcurrency = 2\n\n'
        '[[account]]\nkey = "sk-b"\nlookahead = 0\nenabled = false\n',
        encoding="utf-8",
    )
    main, spare = accounts_from_file(path, concurrency=1, lookahead=1)
    assert (main.label, main.concurrency, main.lookahead, main.enabled) == ("main", 2, 1, True)
    assert (spare.label, spare.lookahead, spare.enabled) == (fingerprint("sk-b"), 0, False)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "has no"),
        ('[[account]]\nlabel = "x"\n', "has no key"),
        ('[[account]]\nkey = "sk-a"\nconcurrency = 0\n', "concurrency must be"),
        ('[[account]]\nkey = "sk-a"\nsecret = 1\n', "unknown fields secret"),
        ('[[account]]\nkey = "sk-a"\n[[account]]\nkey = "sk-a"\n', "one key twice"),
        ('[[account]]\nkey = "sk-a"\nenabled = false\n', "enables no account"),
        ("[[account]\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_one_clear_line_without_the_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AccountsError, match=problem) as caught:
        accounts_from_file(path, concurrency=1, lookahead=1)
    assert "sk-a" not in str(caught.value)


def test_every_key_is_redacted_from_the_logs(tmp_path: Path) -> None:
    listed = Settings(DASHSCOPE_API_KEY="sk-first,sk-second", _env_file=None)  # type: ignore[call-arg]
    assert {"sk-first", "sk-second"} <= set(secrets_of(listed))
    path = tmp_path / "accounts.toml"
    path.write_text('[[account]]\nkey = "sk-filed"\n', encoding="utf-8")
    filed = Settings(DASHSCOPE_ACCOUNTS_FILE=path, _env_file=None)  # type: ignore[call-arg]
    assert "sk-filed" in secrets_of(filed)
