"""What the product guide tells a person about each error kind.

From docs/user-guide.md, "Common test errors and what they mean", and "8. Maintenance Tips" for
billing. These texts are requirements: change them only with the guide.

Kinds the guide's table does not cover have texts written in its voice, from its FAQ where it
has an answer ("The context you're sending is larger than the model's limit").
"""

from __future__ import annotations

from collections.abc import Mapping

_UNAVAILABLE = "The provider is down or unreachable. Not a key problem — wait and try again."

# The product guide's explanations ("Common test errors and what they mean"; billing from
# "8. Maintenance Tips").
GUIDE_TEXTS: Mapping[str, str] = {
    "auth": "The key you pasted is wrong or has been revoked. Double-check the copy-paste — "
    "no leading or trailing spaces.",
    "forbidden": "The key exists but doesn't have access to the endpoint you're targeting. Some "
    "provider accounts have restricted permissions; check your provider's dashboard.",
    "not_found_custom": "The Base URL you entered likely points at the wrong path. Try appending /v1 "
    "or /api/v1 explicitly if auto-detection failed.",
    "rate_limited": "Your key's rate limit was hit during the test. Wait a moment and try again. This "
    "doesn't mean the key is invalid.",
    "unavailable": _UNAVAILABLE,
    "timeout": _UNAVAILABLE,
    "billing": "Your billing at the provider has lapsed (no active payment method, quota exhausted). "
    "Fix by logging into the provider's dashboard, checking your key and billing status, and issuing "
    "a new key if needed. Then update the config here.",
    # Not in the guide's table; written in its voice, from its FAQ where it has one.
    "not_found": "This model isn't available to your key: the provider doesn't know it, your account has no "
    "access to it (for Azure: no deployment of that name), or it was retired. Click Test Key to refresh the "
    "model list and pick another model.",
    "refused": "The provider's content filter refused this request or its answer. This isn't a key problem: "
    "rephrase the message or the scene, or pick another model or provider.",
    "context_too_long": "The context you're sending is larger than the model's limit. Shorten the "
    "scene or pick a model with a larger context window.",
    "bad_request": "The provider rejected the request. Check the Model ID and any Custom Body "
    "Params on this config, then try again.",
    "bad_response": "The provider sent a response RoleCall couldn't read. Wait and try again; for a "
    "Custom endpoint, check that it speaks the OpenAI-compatible API.",
}

HEADLINES: Mapping[str, str] = {
    "auth": "401 Unauthorized / Invalid API key",
    "forbidden": "403 Forbidden",
    "not_found": "Model not available",
    "not_found_custom": "404 Not Found",
    "refused": "Refused by the provider's content filter",
    "rate_limited": "429 Too Many Requests",
    "unavailable": "503 / Connection error",
    "timeout": "Timed out",
    "billing": "Billing or quota problem",
    "context_too_long": "Context too long",
    "bad_request": "Request rejected",
    "bad_response": "Unreadable response",
    "blocked": "Destination not allowed",
}
