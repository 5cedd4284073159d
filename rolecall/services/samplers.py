"""A preset's sampler settings, mapped onto what each protocol's body accepts.

`ChatRequest` carries the samplers every protocol shares as typed fields (temperature, top-p,
max tokens, stop sequences; each adapter names them in its own body). The others travel in
``ChatRequest.params`` under the protocol's own name, and only where the protocol has the
setting:

=================  ===========================  ======================================
setting            sent as                      dropped for
=================  ===========================  ======================================
top_k              ``top_k`` / ``topK`` / ``k``  OpenAI-style APIs except those below
min_p              ``min_p``                    all but NovelAI and the list below
repetition_pen.    ``repetition_penalty``       all but NovelAI and the list below
presence_pen.      ``presence_penalty``         Anthropic, NovelAI
frequency_pen.     ``frequency_penalty``        Anthropic, NovelAI
=================  ===========================  ======================================

OpenAI-style servers that take the open-model samplers (top-k, min-p, repetition penalty):
`EXTENDED_OPENAI`. OpenAI itself (and most hosted APIs) answers 400 to an unknown field, so
they are left out there rather than breaking the turn. A dropped setting is named in the
attempt's note (`Mapped.dropped`), which the usage log keeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rolecall.providers import ChatRequest, Provider

# OpenAI-compatible providers whose servers accept top_k, min_p and repetition_penalty.
EXTENDED_OPENAI = frozenset({"openrouter", "fireworks", "nanogpt", "custom_openai"})
_OPEN_MODEL = {"top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty"}
_PENALTIES = {"presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}
_GEMINI = {"top_k": "topK", "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
# protocol -> {preset setting: body field}
EXTRAS: Mapping[str, Mapping[str, str]] = {
    "openai_compat": _PENALTIES,
    "azure_openai": _PENALTIES,
    "anthropic": {"top_k": "top_k"},
    "gemini": _GEMINI,
    "vertex": _GEMINI,
    "cohere": {"top_k": "k", **_PENALTIES},
    "novelai": _OPEN_MODEL,
}
TYPED = ("temperature", "top_p", "max_tokens", "stop")
NO_MAX_TOKENS = frozenset({"novelai"})  # its adapter sends a fixed length field of its own


@dataclass(frozen=True)
class Mapped:
    request: ChatRequest
    dropped: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return f"Not sent (this provider has no such setting): {', '.join(self.dropped)}" if self.dropped else ""


def extras_for(provider: Provider) -> Mapping[str, str]:
    names = dict(EXTRAS.get(provider.protocol, {}))
    if provider.protocol == "openai_compat" and provider.id in EXTENDED_OPENAI:
        names.update(_OPEN_MODEL)
    return names


def apply(request: ChatRequest, settings: Mapping[str, Any], provider: Provider) -> Mapped:
    """``request`` with the preset's ``settings`` filled in where the request leaves them unset.

    What the request already sets wins (the caller's own max tokens budget, an API caller's
    temperature); the config's custom body params still override both in the adapter.
    """
    if not settings:
        return Mapped(request)
    names = extras_for(provider)
    changes: dict[str, Any] = {}
    params = dict(request.params)
    dropped: list[str] = []
    for name, value in settings.items():
        if value is None or value == []:
            continue
        if name in TYPED:
            if name == "max_tokens" and provider.protocol in NO_MAX_TOKENS:
                dropped.append(name)
            elif name == "stop":
                if not request.stop:
                    changes["stop"] = tuple(value)
            elif getattr(request, name) is None:
                changes[name] = value
        elif name in names:
            params.setdefault(names[name], value)
        else:
            dropped.append(name)
    if params != dict(request.params):
        changes["params"] = params
    return Mapped(dataclasses.replace(request, **changes) if changes else request, tuple(dropped))


def unsupported(settings: Mapping[str, Any], provider: Provider) -> tuple[str, ...]:
    """The settings `apply` would drop for ``provider`` (the preset editor names them per slot)."""
    return apply(ChatRequest(()), settings, provider).dropped
