"""What may be shown of a credential: the masked hint and the names of credential headers.

A leaf module: it imports nothing of ours, so every layer may use it (crypto for ``Secret.hint``,
providers for ``Connection.__repr__`` and the reserved custom headers, services for the stored
hint, ``logs`` for the scrubber). One definition means the browser-facing hint, the log scrubber
and the custom-header rules cannot drift apart.
"""

from __future__ import annotations

HINT_MIN_LENGTH = 16
HIDDEN_HINT = "••••"

# Every header name whose value is a credential, lower-case: what any provider auth scheme sets
# (authorization, x-api-key, api-key, x-goog-api-key), proxy credentials, and our own session
# cookie in both directions. Literal rather than derived from the provider registry, so importing
# it loads nothing; tests/providers/test_registry.py checks it covers every scheme in use.
CREDENTIAL_HEADER_NAMES = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie", "set-cookie"}
)


def masked_hint(key: str) -> str:
    """``"…" + last 4`` for keys of 16 characters or more, else ``"••••"``.

    The only form of a key an API response or a repr may show. A suffix, not a prefix, because
    prefixes are shared (every Google key starts ``AIza``); a short key's tail is too much of it.
    """
    return "…" + key[-4:] if len(key) >= HINT_MIN_LENGTH else HIDDEN_HINT
