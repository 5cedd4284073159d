"""The prompt of a turn: the character, the scene, and as much recent history as fits.

Token estimate (no tokenizer download at run time): ``ceil(characters / 3)`` per text plus
``MESSAGE_OVERHEAD`` tokens per message for the role and separators, plus ``PRIMING`` for the
reply's opening. English runs at about 4 characters per token with common tokenizers, so a
divisor of 3 over-counts by roughly a third: the estimate errs towards sending less history,
never towards a "context too long" from the provider. Code and non-Latin scripts can run closer
to 2 characters per token; the reply budget and the margin absorb the difference there.

The window is the model's context size (from the config's cached model list, else the curated
facts, else ``DEFAULT_CONTEXT``), minus the reply budget (``max_tokens`` sent with the request).
The system text and the newest message must fit; older messages are added newest first while
they fit, and the oldest are left out. When some are left out and the scene has a summary (the
summary pass, services/passes.py), the summary joins the system text in their place and the
history is fitted again around it (it is dropped only if even the newest message would not fit
beside it). A turn reads the newest messages first and older ones only while `more_to_read` says
the window could take more than those read so far (`gateway.run`): since the fit stops at the
first message that does not fit, newest first, what it keeps is what a read of the whole history
would have kept.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rolecall.providers import ChatMessage, ImagePart
from rolecall.services.messages import Line, Persona

CHARS_PER_TOKEN = 3
MESSAGE_OVERHEAD = 4
PRIMING = 3
IMAGE_TOKENS = 1600  # an attached image, as the larger providers count a ~1 MP picture
DEFAULT_CONTEXT = 8192  # a model RoleCall knows nothing about: assume a small window
DEFAULT_REPLY = 1024  # tokens reserved for (and asked of) the reply
MAX_REPLY = 2048
SAFETY = 0.9  # use 90% of the window: the estimate is not a tokenizer
OPENING = "(The scene begins.)"
SUMMARY_HEADING = "The story so far (a summary of the earlier turns, which are not shown):"


class ContextTooLong(Exception):
    """Even the character, the scene and the newest message do not fit the model's window."""

    def __init__(self, needed: int, window: int) -> None:
        super().__init__(f"needs ~{needed} tokens, the model takes {window}")
        self.needed = needed
        self.window = window


def estimate(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD


def _cost(line: Line) -> int:
    return estimate(line.text) + (IMAGE_TOKENS if line.image else 0)


def has_images(messages: Sequence[ChatMessage]) -> bool:
    return any(m.images for m in messages)


@dataclass(frozen=True)
class Budget:
    context: int  # the model's window in tokens
    reply: int  # tokens reserved for the reply (sent as max_tokens)

    @classmethod
    def for_model(cls, context_window: int | None, max_output: int | None, wanted: int | None = None) -> Budget:
        """``wanted``: the preset's max reply tokens, kept within the model's output limit and half its window."""
        context = context_window or DEFAULT_CONTEXT
        if wanted:
            return cls(context, max(1, min(wanted, max_output or wanted, max(context // 2, 16))))
        reply = min(max_output or DEFAULT_REPLY, DEFAULT_REPLY, MAX_REPLY, max(context // 4, 16))
        return cls(context, reply)

    @property
    def prompt(self) -> int:
        return int(self.context * SAFETY) - self.reply - PRIMING


def system_text(persona: Persona | None, title: str, description: str) -> str:
    parts: list[str] = []
    if persona is not None:
        parts.append(f"You are {persona.name}, a character in a roleplay scene. Stay in character and reply as "
                     f"{persona.name}, in your own voice.")
        if persona.persona:
            parts.append(f"About {persona.name}:\n{persona.persona}")
    parts.append(f"Scene: {title}" + (f"\n{description}" if description else ""))
    if persona is not None and persona.example_dialogue:
        parts.append(f"Example dialogue (style only, not part of the scene):\n{persona.example_dialogue}")
    return "\n\n".join(parts)


def build(system: str, history: Sequence[Line], budget: Budget, summary: str = "") -> tuple[ChatMessage, ...]:
    """System + the newest history that fits; raises `ContextTooLong` when even one message does not.
    ``summary`` stands in for the older turns that do not fit (and is left out when all fit)."""
    kept, room = _newest(system, history, budget)
    if summary and len(kept) < len(history):
        with_summary = f"{system}\n\n{SUMMARY_HEADING}\n{summary}"
        kept_beside, room_beside = _newest(with_summary, history, budget)
        if kept_beside and room_beside >= 0:
            system, kept, room = with_summary, kept_beside, room_beside
    if (history and not kept) or room < 0:
        needed = estimate(system) + (_cost(history[-1]) if history else 0) + budget.reply + PRIMING
        raise ContextTooLong(needed, budget.context)
    kept.reverse()
    # Several protocols (Anthropic, Gemini) want the conversation to open with the person.
    if not kept or kept[0].role != "user":
        kept.insert(0, ChatMessage("user", OPENING))
    return (ChatMessage("system", system), *kept)


def more_to_read(system: str, history: Sequence[Line], budget: Budget) -> int:
    """About how many older messages than ``history`` `build` could still take beside ``system``:
    0 when ``history`` already fills the window (the fit stops at the first message that does not
    fit, newest first, so no older one could be sent), else the room left over the average cost of
    the messages in hand, and a quarter more."""
    room = start = budget.prompt - estimate(system)
    for line in history:
        room -= _cost(line)
        if room <= 0:
            return 0
    if not history:
        return math.ceil(room / MESSAGE_OVERHEAD)  # no message costs less
    return math.ceil(room / ((start - room) / len(history)) * 1.25)


def _newest(system: str, history: Sequence[Line], budget: Budget) -> tuple[list[ChatMessage], int]:
    """The newest messages that fit beside ``system`` (newest first) and the room left."""
    room = budget.prompt - estimate(system)
    kept: list[ChatMessage] = []
    for line in reversed(history):
        cost = _cost(line)
        if cost > room:
            break
        room -= cost
        images = (ImagePart(line.image.media_type, line.image.data),) if line.image else ()
        kept.append(ChatMessage("assistant" if line.role == "assistant" else "user", line.text, images))
    return kept, room
