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

PROTOCOLS: Mapping[str, Adapter] = {
    "openai_compat": OpenAICompat(),
    "anthropic": Anthropic(),
    "gemini": Gemini(),
    "cohere": Cohere(),
    "azure_openai": AzureOpenAI(),
    "vertex": Vertex(),
    "novelai": NovelAI(),
}


def protocol_for(protocol: str) -> Adapter:
    """The adapter for a protocol name; unknown names raise (no silent default)."""
    try:
        return PROTOCOLS[protocol]
    except KeyError:
        raise KeyError(f"unknown protocol {protocol!r}") from None


__all__ = ["PROTOCOLS", "Adapter", "BaseAdapter", "protocol_for"]
