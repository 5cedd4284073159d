"""What a person reads when a generation fails, per error kind, with what to do about it.

The provider error kinds reuse the guide's explanations (`providers.explain`) where they fit a
live generation. Where the Test Key wording does not fit ("during the test"), or the guide's FAQ
says more about generation ("The test passed but generation is failing"), the text is here.
Kinds that are not provider errors: `key_needed` (an End-to-End config and no key handed over),
`no_model` (nothing chosen, or the config was deleted), `premiere_unavailable` (the hosted
model is not offered or its upstream cannot be opened), `balance_empty` (the Premiere Theater
token balance) and `config_broken` (the stored config cannot be opened).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rolecall.providers import ProviderError, explain, headline

GENERATION_TEXTS: Mapping[str, str] = {
    "auth": "The provider rejected the key for this config: it is wrong, expired or has been revoked. "
    "Open the config, paste a current key and click Test Key.",
    "rate_limited": "Your key's rate limit was hit. Wait a moment and try again. This doesn't mean the key "
    "is invalid.",
    "timeout": "The provider took too long to answer. Not a key problem — wait and try again.",
    "not_found": "This model isn't available to this key. Your account may not have access to it (some models "
    "need a higher tier at the provider), or it was retired. Try a different model from the same provider.",
    "key_needed": "This config's key is end-to-end encrypted, so your browser has to unlock it for each message. "
    "Enter your recovery phrase to unlock your keys, then send again.",
    "no_model": "Pick a model for this scene first: open the AI wing on the right and click a model.",
    "config_gone": "The provider config this scene used was deleted. Pick another model in the AI wing.",
    "premiere_unavailable": "This Premiere Theater model isn't available on this server right now. Pick a "
    "model from one of your own providers in the AI wing.",
    "config_broken": "This config can't be opened. Delete it and add it again.",
}

HEADLINES: Mapping[str, str] = {
    "auth": "The key was rejected",
    "key_needed": "Unlock your keys",
    "no_model": "No model chosen",
    "premiere_unavailable": "Premiere Theater isn't available",
    "balance_empty": "Your Premiere Theater balance is empty",
    "config_broken": "This config can't be used",
    "not_found": "Model not available to this key",
    "interrupted": "Stopped",
}

RETRYABLE = frozenset({"rate_limited", "unavailable", "timeout", "bad_response"})


@dataclass(frozen=True)
class GenerationError:
    """A failed turn as the page shows it: kind, headline, what to do, and the config to link to."""

    kind: str
    headline: str
    message: str
    config_id: str | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE


def headline_for(kind: str) -> str:
    if kind in HEADLINES:
        return HEADLINES[kind]
    try:
        return headline(ProviderError(kind))
    except (ValueError, KeyError):
        return "Generation failed"


def from_provider(error: ProviderError, config_id: str | None) -> GenerationError:
    """The page's error for a provider failure (provider text, already redacted, only where it names the fix)."""
    text = GENERATION_TEXTS.get(error.kind) if not (error.kind == "not_found" and error.custom_base) else None
    message = text or explain(error)
    if error.kind == "bad_request" and error.message:
        message += f" The provider said: {error.message}"
    if error.kind == "rate_limited" and error.retry_after:
        message += f" The provider asks to wait {_seconds(error.retry_after)}."
    return GenerationError(error.kind, headline_for(error.kind), message, config_id, error.retry_after)


def refusal(kind: str, config_id: str | None = None, message: str | None = None) -> GenerationError:
    """An error RoleCall finds before anything is sent upstream."""
    if kind == "config_gone":
        return GenerationError("no_model", HEADLINES["no_model"], GENERATION_TEXTS["config_gone"], None)
    return GenerationError(kind, headline_for(kind), message or GENERATION_TEXTS[kind], config_id)


def busy(message: str, retry_after: float) -> GenerationError:
    """This server's own provider-call slots are full (not the provider's rate limit, not the key)."""
    return GenerationError("rate_limited", "Too many replies at once", message, None, retry_after)


def first_token_timeout(deadline: float, config_id: str | None) -> GenerationError:
    return GenerationError("timeout", headline_for("timeout"), f"The model sent no text within {_seconds(deadline)}. "
                           "Not a key problem — wait and try again, or pick a faster model.", config_id)


def _seconds(value: float) -> str:
    seconds = max(1, round(value))
    if seconds == 1:
        return "1 second"
    return f"{seconds} seconds" if seconds < 120 else f"{round(seconds / 60)} minutes"
