from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.core import open_core
from bot.locales import ja, zh_cn
from bot.messages import (
    CATALOGUE,
    DEFAULT_LOCALE,
    PARAMS,
    Markup,
    Mention,
    MessageKey,
    Moment,
    MomentStyle,
    Phrase,
    UserMessage,
    choose_locale,
    locale_language,
    placeholders,
    render,
)
from bot.settings import Settings
from bot.wiring import EmoBot
from cogs.emo.translator import CatalogueTranslator


def test_every_key_has_an_english_text() -> None:
    assert set(CATALOGUE[DEFAULT_LOCALE]) == set(MessageKey)


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    english = CATALOGUE[DEFAULT_LOCALE]
    for language, table in CATALOGUE.items():
        assert set(table) == set(MessageKey), language
        for key, template in table.items():
            assert placeholders(template) == placeholders(english[key]), (language, key)


def test_unknown_locales_fall_back_to_english() -> None:
    assert locale_language("xx-YY") == "en"
    assert locale_language(None) == "en"
    text = render(UserMessage(key=MessageKey.GUILD_ONLY), "pt-BR")
    assert text == CATALOGUE["en"][MessageKey.GUILD_ONLY]


def test_placeholders_are_filled() -> None:
    message = UserMessage(
        key=MessageKey.IMAGE_TOO_SMALL, params={"width": 300, "height": 200, "minimum": 400}
    )
    assert render(message) == (
        "The image is 300×200 px; its shorter side must be at least 400 px. Upload a larger photo."
    )


# --- Japanese and Simplified Chinese ----------------------------------------------------------

TRANSLATED = ("ja", "zh-CN")
KANA = re.compile(r"[\u3040-\u30ff]")  # hiragana and katakana: Japanese, never Chinese
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_the_bot_speaks_japanese_and_simplified_chinese() -> None:
    assert set(TRANSLATED) <= set(CATALOGUE)
    for language in TRANSLATED:
        # A key added in English and not yet translated here fails this, not only the
        # all-languages test above: render() would quietly answer in English.
        missing = sorted(set(MessageKey) - set(CATALOGUE[language]))
        assert not missing, (language, missing)


@pytest.mark.parametrize(
    "key",
    [MessageKey.QUEUED, MessageKey.HELP, MessageKey.NO_FACE, MessageKey.CARD_CANCELED],
)
def test_render_answers_in_the_members_language(key: MessageKey) -> None:
    english = CATALOGUE[DEFAULT_LOCALE][key]
    message = UserMessage(key=key, params=dict.fromkeys(placeholders(english), 7))
    japanese = render(message, "ja")
    chinese = render(message, "zh-CN")
    assert KANA.search(japanese), japanese
    assert HAN.search(japanese), japanese
    assert HAN.search(chinese), chinese
    assert not KANA.search(chinese), chinese
    assert render(message, "en-US") == english.format_map(message.params)


def test_every_translation_is_written_in_its_language() -> None:
    for key, english in CATALOGUE[DEFAULT_LOCALE].items():
        if not re.search(r"[A-Za-z]{3}", re.sub(r"\{\w+\}", "", english)):
            continue  # nothing to translate, e.g. "#{job} · {state} · {when} {link}"
        japanese, chinese = CATALOGUE["ja"][key], CATALOGUE["zh-CN"][key]
        assert KANA.search(japanese) or HAN.search(japanese), (key, japanese)
        assert HAN.search(chinese), (key, chinese)
        assert not KANA.search(chinese), (key, chinese)


def test_markup_is_kept() -> None:
    for language in TRANSLATED:
        for key, english in CATALOGUE[DEFAULT_LOCALE].items():
            text = CATALOGUE[language][key]
            for fixed in ("**", "`", "<t:", "<#", "/emo", "$"):
                assert text.count(fixed) == english.count(fixed), (language, key, fixed)


def test_choose_locale() -> None:
    assert choose_locale("ja", "en-US") == "ja"
    assert choose_locale("fr", "zh-CN") == "zh-CN"
    assert choose_locale("fr", "de") == "en-US"
    assert choose_locale(None, None) == "en-US"
    assert choose_locale("en-GB", "ja") == "en-GB"
    # Traditional Chinese readers are not sent Simplified Chinese: the server's language, or
    # English, rather than a script they did not choose.
    assert locale_language("zh-TW") == "en"
    assert choose_locale("zh-TW", "ja") == "ja"
    assert choose_locale("zh-TW", None) == "en-US"
    assert locale_language("zh-CN") == "zh-CN"
    assert locale_language("ja") == "ja"


# --- slash command localizations --------------------------------------------------------------

CONTEXT_MENU_TYPES = (2, 3)  # user and message commands


async def test_translator_answers_japanese_and_chinese_only() -> None:
    translator = CatalogueTranslator()
    text = app_commands.locale_str("How lively the motion is")
    where = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.parameter_description, None
    )
    assert await translator.translate(text, discord.Locale.japanese, where) == "動きの大きさ"
    assert await translator.translate(text, discord.Locale.chinese, where) == "动作的活跃程度"
    assert await translator.translate(text, discord.Locale.taiwan_chinese, where) is None
    assert await translator.translate(text, discord.Locale.french, where) is None
    unknown = app_commands.locale_str("Not a string of any command")
    assert await translator.translate(unknown, discord.Locale.japanese, where) is None
    # What members type stays English, even where the same word is a choice name.
    typed = app_commands.TranslationContext(
        app_commands.TranslationContextLocation.parameter_name, None
    )
    active = app_commands.locale_str("active")
    assert await translator.translate(active, discord.Locale.japanese, typed) is None


def test_command_translations_cover_the_same_strings() -> None:
    assert set(ja.COMMANDS) == set(zh_cn.COMMANDS)


@pytest.fixture
async def command_payloads(tmp_path: Path) -> list[dict[str, Any]]:
    """What the bot sends Discord when it syncs: built offline, no connection to Discord."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        dashscope_api_key="sk-offline",
        emo_data_dir=tmp_path,
        emo_ops_bind="off",
    )
    async with open_core(settings) as core:
        bot = EmoBot(core, serve=False)
        async with bot:
            await bot.setup_hook()  # registers the translator, then loads every extension
            translator = bot.tree.translator
            assert isinstance(translator, CatalogueTranslator)
            return [
                await command.get_translated_payload(bot.tree, translator)
                for command in bot.tree.get_commands()
            ]


def _shown_strings(
    item: dict[str, Any], path: str
) -> Iterator[tuple[str, str, dict[str, str], int]]:
    """(where, English, localizations, Discord's length limit) of what the command list shows."""
    if item.get("description") not in (None, "", "…"):
        localized = item.get("description_localizations") or {}
        yield f"{path} description", item["description"], localized, 100
    for choice in item.get("choices") or []:
        localized = choice.get("name_localizations") or {}
        yield f"{path} choice", choice["name"], localized, 100
    for option in item.get("options") or []:
        assert not option.get("name_localizations"), f"{path} {option['name']}: typed name"
        yield from _shown_strings(option, f"{path} {option['name']}")


async def test_every_command_string_is_translated(
    command_payloads: list[dict[str, Any]],
) -> None:
    names = {payload["name"] for payload in command_payloads}
    assert {"emo", "emo-operator"} <= names, names
    shown: list[tuple[str, str, dict[str, str], int]] = []
    for payload in command_payloads:
        if payload.get("type") in CONTEXT_MENU_TYPES:
            localized = payload.get("name_localizations") or {}
            shown.append((f"context menu {payload['name']!r}", payload["name"], localized, 32))
        else:
            assert not payload.get("name_localizations"), f"/{payload['name']}: typed name"
            shown.extend(_shown_strings(payload, f"/{payload['name']}"))
    assert len(shown) > 20
    missing = []
    for where, english, localized, limit in shown:
        for locale, table in (("ja", ja.COMMANDS), ("zh-CN", zh_cn.COMMANDS)):
            if localized.get(locale) != table.get(english) or english not in table:
                missing.append(f"{locale}: {where}: {english!r}")
            elif not 1 <= len(localized[locale]) <= limit:
                missing.append(f"{locale}: {where}: longer than {limit}: {localized[locale]!r}")
        assert "zh-TW" not in localized, where
    assert not missing, "\n".join(missing)


def test_words_of_ours_inside_a_message_are_translated_too() -> None:
    audio = Phrase(key=MessageKey.WORD_AUDIO)
    for what in (audio, "audio"):  # a Phrase, or the plain word rows written before it
        message = UserMessage(key=MessageKey.FILE_TOO_LARGE, params={"what": what, "limit_mb": 25})
        assert "音声" in render(message, "ja")
        assert "音频" in render(message, "zh-CN")
        assert "audio" in render(message, "en-US")


def test_typed_values_are_written_by_the_edges_markup() -> None:
    at = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
    message = UserMessage(
        key=MessageKey.CARD_RENDERING, params={"since": Moment(at=at), "eta": Moment(at=at)}
    )
    assert "2025-06-15 12:00 UTC" in render(message)  # plain text by default
    edge = Markup(mention=str, moment=lambda moment: f"<t:{int(moment.timestamp())}:R>", link=str)
    assert f"<t:{int(at.timestamp())}:R>" in render(message, "en", edge)
    title = UserMessage(key=MessageKey.CARD_TITLE, params={"mention": Mention(user_id=5), "job": 1})
    assert "<@" not in render(title)
    stored = PARAMS.dump_json(title.params)
    assert PARAMS.validate_json(stored) == title.params  # the row keeps them typed


def test_a_moment_shown_as_a_date_is_written_by_the_edges_date_markup() -> None:
    first = datetime(2025, 7, 1, tzinfo=UTC)
    on = Moment(at=first, style=MomentStyle.DATE)
    message = UserMessage(key=MessageKey.TOTAL_BUDGET_USED_UP, params={"resets_on": on})
    assert "until 2025-07-01 UTC." in render(message)  # plain text: the UTC date
    edge = Markup(mention=str, moment=str, link=str, date=lambda at: f"<t:{int(at.timestamp())}:D>")
    for locale in ("en", "ja", "zh-CN"):
        assert f"<t:{int(first.timestamp())}:D>" in render(message, locale, edge)
    assert PARAMS.validate_json(PARAMS.dump_json(message.params)) == message.params
    # Rows written before moments had a style read back as relative ones.
    assert PARAMS.validate_json(b'{"at": {"at": "2025-07-01T00:00:00Z"}}') == {
        "at": Moment(at=first)
    }
