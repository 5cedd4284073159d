"""Auth schemes: how a key travels to its provider. Always in a header, never in a URL.

Keys in query strings end up in access logs and in exception text (httpx puts the URL in
`HTTPStatusError`; LiteLLM #24902 leaked Gemini keys that way), so even Gemini, which accepts
`?key=`, gets `x-goog-api-key` here.

`AUTH_HEADER_NAMES` is every credential-carrying header name (`rolecall.redact`, shared with the
log scrubber): `options.check_headers` refuses them as custom headers.
"""

from __future__ import annotations

from dataclasses import dataclass

from rolecall.redact import CREDENTIAL_HEADER_NAMES


@dataclass(frozen=True)
class Bearer:
    """`Authorization: Bearer <key>` (OpenAI and most others). Nothing is sent without a key."""

    header = "authorization"

    def headers(self, key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {key}"} if key else {}


@dataclass(frozen=True)
class HeaderKey:
    """The raw key in a named header: `x-api-key` (Anthropic), `api-key` (Azure), `x-goog-api-key`."""

    header: str

    def headers(self, key: str | None) -> dict[str, str]:
        return {self.header: key} if key else {}


@dataclass(frozen=True)
class NoAuth:
    """No credential at all."""

    header = ""

    def headers(self, key: str | None) -> dict[str, str]:
        return {}


@dataclass(frozen=True)
class ServiceAccount:
    """Vertex AI: the "key" is a service-account JSON; the adapter exchanges it for an OAuth token
    and sends `Authorization: Bearer <token>`. Headers are built by the adapter, not here."""

    header = "authorization"

    def headers(self, key: str | None) -> dict[str, str]:
        raise TypeError("service-account auth needs a token exchange; the vertex adapter does it")


AuthScheme = Bearer | HeaderKey | NoAuth | ServiceAccount

AUTH_HEADER_NAMES = CREDENTIAL_HEADER_NAMES
