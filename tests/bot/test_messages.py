from __future__ import annotations

from bot.messages import (
    CATALOGUE,
    DEFAULT_LOCALE,
    MessageKey,
    UserMessage,
    locale_language,
    placeholders,
    render,
)


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
