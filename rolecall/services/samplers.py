"""A preset's sampler settings, mapped onto what each protocol's body accepts.

`ChatRequest` carries the samplers every protocol shares as typed fields (temperature, top-p,
max tokens, stop sequences; each adapter names them in its own body). The others (top-k, min-p,
repetition, presence and frequency penalties) travel in ``ChatRequest.params`` under the body
field the provider's protocol has for them (`providers.sampler_fields`: top-k as ``top_k``,
``topK`` or ``k``; min-p and repetition penalty only on NovelAI and on OpenAI-compatible servers
the registry marks ``open_model_samplers``; the penalties on OpenAI-style APIs, Gemini/Vertex and
Cohere). OpenAI itself (and most hosted APIs) answers 400 to an unknown field, so a setting a
provider lacks is left out rather than breaking the turn, and named in the attempt's note
(`Mapped.dropped`), which the usage log keeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rolecall.providers import ChatRequest, Provider, sampler_fields, takes_max_tokens

TYPED = ("temperature", "top_p", "max_tokens", "stop")


@dataclass(frozen=True)
class Mapped:
    request: ChatRequest
    dropped: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return f"Not sent (this provider has no such setting): {', '.join(self.dropped)}" if self.dropped else ""


def apply(request: ChatRequest, settings: Mapping[str, Any], provider: Provider) -> Mapped:
    """``request`` with the preset's ``settings`` filled in where the request leaves them unset.

    What the request already sets wins (the caller's own max tokens budget, an API caller's
    temperature); the config's custom body params still override both in the adapter.
    """
    if not settings:
        return Mapped(request)
    names = sampler_fields(provider)
    changes: dict[str, Any] = {}
    params = dict(request.params)
    dropped: list[str] = []
    for name, value in settings.items():
        if value is None or value == []:
            continue
        if name in TYPED:
            if name == "max_tokens" and not takes_max_tokens(provider):
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
