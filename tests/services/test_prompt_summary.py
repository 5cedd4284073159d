"""The scene's summary in the prompt: it stands in for the older turns that do not fit, and only then."""

from __future__ import annotations

from rolecall.services.messages import Line
from rolecall.services.prompt import SUMMARY_HEADING, Budget, build

BUDGET = Budget.for_model(2000, 200)
HISTORY = [Line("user" if n % 2 == 0 else "assistant", f"turn {n}: " + "word " * 300) for n in range(10)]


def test_the_summary_replaces_the_turns_that_were_left_out() -> None:
    sent = build("You are Mira.", HISTORY, BUDGET, "They met at the lighthouse.")
    assert sent[0].content == f"You are Mira.\n\n{SUMMARY_HEADING}\nThey met at the lighthouse."
    kept = [m.content.split(":")[0] for m in sent[1:]]
    assert "turn 0" not in kept and kept[-1] == "turn 9"
    assert len(kept) < len(HISTORY)


def test_no_summary_when_everything_fits() -> None:
    sent = build("You are Mira.", HISTORY[:2], BUDGET, "They met at the lighthouse.")
    assert sent[0].content == "You are Mira." and len(sent) == 3


def test_a_summary_too_long_to_fit_beside_the_newest_turn_is_left_out() -> None:
    sent = build("You are Mira.", HISTORY, BUDGET, "long " * 3000)
    assert sent[0].content == "You are Mira." and sent[-1].content.startswith("turn 9")
