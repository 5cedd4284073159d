"""The prompt of a turn: character and scene first, then the newest history that fits the window."""

from __future__ import annotations

import pytest

from rolecall.services.messages import Line, Persona
from rolecall.services.prompt import (
    DEFAULT_CONTEXT,
    OPENING,
    Budget,
    ContextTooLong,
    build,
    estimate,
    more_to_read,
    system_text,
)

MIRA = Persona("c1", "Mira", "A lighthouse keeper.", "Mira: Aye.")


def test_estimate_is_conservative_for_english() -> None:
    text = "The quick brown fox jumps over the lazy dog. " * 20  # ~200 tokens with common tokenizers
    assert estimate(text) >= 290


def test_system_text_names_character_scene_and_example() -> None:
    text = system_text(MIRA, "Lighthouse", "A storm night.")
    assert "You are Mira" in text and "A lighthouse keeper." in text and "Scene: Lighthouse\nA storm night." in text
    assert "Example dialogue (style only" in text and "Mira: Aye." in text


def test_unknown_model_gets_a_small_window_and_a_reply_budget() -> None:
    budget = Budget.for_model(None, None)
    assert budget.context == DEFAULT_CONTEXT and budget.reply == 1024
    assert Budget.for_model(200_000, 64_000).reply == 1024
    assert Budget.for_model(4096, 150).reply == 150


def test_oldest_messages_drop_out_first() -> None:
    history = [Line("user" if n % 2 else "assistant", f"{n} " + "word " * 600) for n in range(20)]
    sent = build("system", history, Budget.for_model(None, None))
    assert sent[0].role == "system" and sent[-1].content.startswith("19 ")
    assert not any(m.content.startswith("0 ") for m in sent)
    kept = [int(m.content.split()[0]) for m in sent[1:] if m.content != OPENING]
    assert kept == sorted(kept) and kept[-1] == 19


def test_conversation_opens_with_the_person() -> None:
    sent = build("system", [Line("assistant", "Storm's coming.")], Budget.for_model(None, None))
    assert [m.role for m in sent] == ["system", "user", "assistant"] and sent[1].content == OPENING


def test_a_turn_that_cannot_fit_is_refused() -> None:
    with pytest.raises(ContextTooLong) as info:
        build("x" * 30_000, [Line("user", "Hello")], Budget.for_model(None, None))
    assert info.value.window == DEFAULT_CONTEXT and info.value.needed > DEFAULT_CONTEXT


@pytest.mark.parametrize("context", [300, 600, 1000, 1400, 2000, 4000])
def test_more_to_read_is_zero_only_when_no_older_message_could_be_sent(context: int) -> None:
    # A turn reads older messages only while `more_to_read` asks for some: whenever `build` would
    # send one more older message (the cheapest there is), it must ask, at the window's edge too.
    history = [Line("user" if n % 2 else "assistant", f"line {n} " + "word " * (n * 7 % 40)) for n in range(30)]
    budget = Budget(context, 64)
    asked = 0
    for size in range(0, len(history)):
        lines = history[-size:] if size else []
        try:
            sent = [m.content for m in build("You are Mira.", [Line("user", "x"), *lines], budget)]
        except ContextTooLong:
            sent = []
        more = more_to_read("You are Mira.", lines, budget)
        assert more >= 0 and (more > 0 or "x" not in sent), (context, size)
        asked += more > 0
    assert (asked < len(history)) == (context <= 1000)  # the small windows fill up, the large ones never
