"""`rolecall providers list|show` through click's CliRunner."""

from __future__ import annotations

from click.testing import CliRunner

from rolecall.cli_providers import providers
from rolecall.providers import all_providers


def test_list_has_a_row_per_provider() -> None:
    result = CliRunner().invoke(providers, ["list"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["ID", "NAME", "CATEGORY", "PROTOCOL", "NEEDS", "KEY"]
    assert len(lines) == 1 + len(all_providers())
    groq = next(line for line in lines if line.startswith("groq "))
    assert groq.split()[-3:] == ["openai_compatible", "openai_compat", "yes"]
    assert next(line for line in lines if line.startswith("pollinations ")).split()[-1] == "optional"


def test_list_by_category() -> None:
    result = CliRunner().invoke(providers, ["list", "--category", "enterprise"])
    rows = result.output.strip().splitlines()[1:]
    assert [r.split()[0] for r in rows] == ["azure_openai", "vertex"]


def test_show_prints_the_whole_record() -> None:
    result = CliRunner().invoke(providers, ["show", "nanogpt"])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("NanoGPT", "openai_compatible", "Pay-per-use: https://nano-gpt.com/api/v1",
                 "Subscription: https://nano-gpt.com/api/subscription/v1", "account host", "sk-nano-",
                 "POST /check-balance on the account host", "GET /models?detailed=true (public",
                 "endpoint_type", "Custom Headers (advanced)", "API Key (required, secret)"):
        assert text in out, text


def test_show_enterprise_fields_and_notes() -> None:
    out = CliRunner().invoke(providers, ["show", "azure_openai"]).output
    assert "Resource Name (required)" in out and "Deployment ID (required)" in out and "HeaderKey (api-key header)" in out
    out = CliRunner().invoke(providers, ["show", "perplexity"]).output
    assert "one-token generation (sonar)" in out and "curated list" in out and "Notes:" in out


def test_show_unknown() -> None:
    result = CliRunner().invoke(providers, ["show", "nope"])
    assert result.exit_code != 0 and "unknown provider 'nope'" in result.output
