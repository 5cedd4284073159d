"""Providers as data, protocols as code (docs/architecture.md,
"Providers are data, protocols are code").

```python
from rolecall.providers import connect, protocol_for, ChatRequest, ChatMessage

conn = connect("groq", api_key=key, model="llama-3.3-70b-versatile")
adapter = protocol_for(conn.provider.protocol)
check = await adapter.test_key(conn, http)          # KeyCheck(status, models, error, base_url)
async for event in adapter.stream_chat(conn, ChatRequest((ChatMessage("user", "Hi"),)), http):
    ...
```

This package knows nothing of users, scenes or the database, and imports only `rolecall.net`.
"""

from rolecall.providers.auth import AUTH_HEADER_NAMES
from rolecall.providers.connection import Target, checked_key, connect, resolve_target, trusted_connection
from rolecall.providers.errors import KINDS, ProviderError, explain, headline
from rolecall.providers.options import (
    OptionsError,
    check_headers,
    check_model_id,
    check_values,
    form_fields,
    parse_body_params,
    parse_headers,
)
from rolecall.providers.protocols import PROTOCOLS, Adapter, protocol_for, sampler_fields, takes_images, takes_max_tokens
from rolecall.providers.registry import all_providers, by_category, get
from rolecall.providers.types import (
    CATEGORIES,
    ChatEvent,
    ChatMessage,
    ChatRequest,
    ChatResult,
    Connection,
    Endpoint,
    Field,
    ImagePart,
    KeyCheck,
    ModelInfo,
    Provider,
    Usage,
)

__all__ = [
    "AUTH_HEADER_NAMES",
    "Adapter",
    "CATEGORIES",
    "ChatEvent",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "Connection",
    "Endpoint",
    "Field",
    "ImagePart",
    "KINDS",
    "KeyCheck",
    "ModelInfo",
    "OptionsError",
    "PROTOCOLS",
    "Provider",
    "ProviderError",
    "Target",
    "Usage",
    "all_providers",
    "by_category",
    "check_headers",
    "check_model_id",
    "check_values",
    "checked_key",
    "connect",
    "explain",
    "form_fields",
    "get",
    "headline",
    "parse_body_params",
    "parse_headers",
    "protocol_for",
    "resolve_target",
    "sampler_fields",
    "takes_images",
    "takes_max_tokens",
    "trusted_connection",
]
