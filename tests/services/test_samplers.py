"""A preset's samplers on each protocol's request: sent under the protocol's name, or dropped and named."""

from __future__ import annotations

import pytest

from rolecall.providers import ChatMessage, ChatRequest, get
from rolecall.services import samplers

PRESET = {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "max_tokens": 400, "repetition_penalty": 1.1,
          "presence_penalty": 0.3, "frequency_penalty": 0.2, "stop": ["\nUser:"]}
REQUEST = ChatRequest((ChatMessage("user", "Hi"),), model="m")


@pytest.mark.parametrize(("provider", "params", "dropped"), [
    ("openai", {"presence_penalty": 0.3, "frequency_penalty": 0.2}, ("top_k", "min_p", "repetition_penalty")),
    ("openrouter", {"presence_penalty": 0.3, "frequency_penalty": 0.2, "top_k": 40, "min_p": 0.05,
                    "repetition_penalty": 1.1}, ()),
    ("anthropic", {"top_k": 40}, ("min_p", "repetition_penalty", "presence_penalty", "frequency_penalty")),
    ("gemini", {"topK": 40, "presencePenalty": 0.3, "frequencyPenalty": 0.2}, ("min_p", "repetition_penalty")),
    ("cohere", {"k": 40, "presence_penalty": 0.3, "frequency_penalty": 0.2}, ("min_p", "repetition_penalty")),
    ("novelai", {"top_k": 40, "min_p": 0.05, "repetition_penalty": 1.1},
     ("max_tokens", "presence_penalty", "frequency_penalty")),
])
def test_each_protocol_gets_what_it_has(provider: str, params: dict, dropped: tuple) -> None:  # type: ignore[type-arg]
    mapped = samplers.apply(REQUEST, PRESET, get(provider))
    request = mapped.request
    assert (request.temperature, request.top_p, request.stop) == (0.7, 0.9, ("\nUser:",))
    assert request.max_tokens == (None if provider == "novelai" else 400)
    assert dict(request.params) == params
    assert sorted(mapped.dropped) == sorted(dropped)
    assert mapped.note == (f"Not sent (this provider has no such setting): {', '.join(mapped.dropped)}" if dropped else "")


def test_what_the_request_already_sets_wins() -> None:
    own = ChatRequest(REQUEST.messages, "m", max_tokens=50, temperature=0.1, stop=("END",), params={"top_k": 5})
    request = samplers.apply(own, PRESET, get("openrouter")).request
    assert (request.max_tokens, request.temperature, request.stop, request.params["top_k"]) == (50, 0.1, ("END",), 5)
    assert request.top_p == 0.9


def test_no_preset_leaves_the_request_alone() -> None:
    assert samplers.apply(REQUEST, {}, get("openai")).request is REQUEST
