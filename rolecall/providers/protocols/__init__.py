"""`PROTOCOLS`: the only dispatch table, from a registry record's `protocol` to its adapter.

Adapters are stateless apart from Vertex's token cache, so one instance each serves every call.
"""

from __future__ import annotations

from collections.abc import Mapping

from rolecall.providers.protocols.anthropic import Anthropic
from rolecall.providers.protocols.azure_openai import AzureOpenAI
from rolecall.providers.protocols.base import Adapter, BaseAdapter
from rolecall.providers.protocols.cohere import Cohere
from rolecall.providers.protocols.gemini import Gemini
from rolecall.providers.protocols.novelai import NovelAI
from rolecall.providers.protocols.openai_compat import OpenAICompat
from rolecall.providers.protocols.vertex import Vertex
from rolecall.providers.types import Provider

PROTOCOLS: Mapping[str, Adapter] = {
    "openai_compat": OpenAICompat(),
    "anthropic": Anthropic(),
    "gemini": Gemini(),
    "cohere": Cohere(),
    "azure_openai": AzureOpenAI(),
    "vertex": Vertex(),
    "novelai": NovelAI(),
}


_PENALTIES = {"presence_penalty": "presence_penalty", "frequency_penalty": "frequency_penalty"}
_GEMINI = {"top_k": "topK", "presence_penalty": "presencePenalty", "frequency_penalty": "frequencyPenalty"}
_OPEN_MODEL = {"top_k": "top_k", "min_p": "min_p", "repetition_penalty": "repetition_penalty"}
# Preset samplers beyond `ChatRequest`'s typed ones: protocol -> {setting: body field}.
EXTRA_SAMPLERS: Mapping[str, Mapping[str, str]] = {
    "openai_compat": _PENALTIES,
    "azure_openai": _PENALTIES,
    "anthropic": {"top_k": "top_k"},
    "gemini": _GEMINI,
    "vertex": _GEMINI,
    "cohere": {"top_k": "k", **_PENALTIES},
    "novelai": _OPEN_MODEL,
}
IMAGE_PROTOCOLS = frozenset({"openai_compat", "azure_openai", "anthropic"})  # bodies that carry image parts
NO_MAX_TOKENS = frozenset({"novelai"})  # its adapter sends a fixed length field of its own


def sampler_fields(provider: Provider) -> Mapping[str, str]:
    """The body field of each extra sampler (top-k, min-p, penalties) this provider takes."""
    names = dict(EXTRA_SAMPLERS.get(provider.protocol, {}))
    if provider.open_model_samplers:
        names.update(_OPEN_MODEL)
    return names


def takes_max_tokens(provider: Provider) -> bool:
    return provider.protocol not in NO_MAX_TOKENS


def takes_images(provider: Provider) -> bool:
    return provider.protocol in IMAGE_PROTOCOLS


def protocol_for(protocol: str) -> Adapter:
    """The adapter for a protocol name; unknown names raise (no silent default)."""
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise KeyError(f"unknown protocol {protocol!r}") from None


__all__ = ["PROTOCOLS", "Adapter", "BaseAdapter", "protocol_for", "sampler_fields", "takes_images", "takes_max_tokens"]
