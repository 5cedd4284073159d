"""`rolecall providers list|show`: the provider registry, readable from a terminal.

Attached to the main CLI with `main.add_command(providers)`. Everything printed comes from the
registry records; nothing here knows a provider by name.
"""

from __future__ import annotations

import click

from rolecall.providers import CATEGORIES, Provider, all_providers, form_fields, get
from rolecall.providers.types import AuthEndpoint, ModelsEndpoint, ProbeChat, StaticModels, TokenExchange

_KEY = {"required": "yes", "optional": "optional", "none": "no"}


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


@click.group()
def providers() -> None:
    """Providers RoleCall can connect to (the BYOK registry)."""


@providers.command("list")
@click.option("--category", type=click.Choice(CATEGORIES), help="Only this category.")
def list_providers(category: str | None) -> None:
    """One line per provider: id, name, category, protocol, whether a key is needed."""
    rows: list[tuple[str, ...]] = [("ID", "NAME", "CATEGORY", "PROTOCOL", "NEEDS KEY")]
    rows += [(p.id, p.name, p.category, p.protocol, _KEY[p.key_policy]) for p in all_providers() if not category or p.category == category]
    click.echo(_table(rows))


@providers.command("show")
@click.argument("provider_id")
def show(provider_id: str) -> None:
    """Everything the registry knows about one provider."""
    try:
        provider = get(provider_id)
    except KeyError:
        raise click.ClickException(f"unknown provider {provider_id!r}; `rolecall providers list` shows them all") from None
    for label, value in _describe(provider):
        click.echo(f"{label + ':':<15} {value}" if value != "" else f"{label}:")


def _describe(p: Provider) -> list[tuple[str, str]]:
    lines = [
        ("ID", p.id), ("Name", p.name), ("Category", p.category), ("Protocol", p.protocol),
        ("Needs key", _KEY[p.key_policy]), ("Key", p.key_label), ("Key prefixes", ", ".join(p.key_prefixes) or "-"),
        ("Get a key", p.key_url or "-"), ("Auth", _auth(p)),
    ]
    lines.append(("Endpoints", ""))
    lines += [(f"  {e.id}", f"{e.label}: {e.url or '(you supply the Base URL)'}") for e in p.endpoints]
    lines += [(f"  {name} host", url) for name, url in p.urls.items()]
    lines += [("Models", _models(p)), ("Key test", _key_check(p))]
    if p.headers:
        lines.append(("Extra headers", ", ".join(f"{k}: {v}" for k, v in p.headers.items())))
    lines.append(("Fields", ""))
    lines += [(f"  {f.name}", f"{f.label} ({f.level}{', secret' if f.secret else ''})") for f in form_fields(p)]
    if p.notes:
        lines.append(("Notes", p.notes))
    return lines


def _auth(p: Provider) -> str:
    header = getattr(p.auth, "header", "")
    scheme = type(p.auth).__name__
    return f"{scheme} ({header} header)" if header else scheme


def _models(p: Provider) -> str:
    if isinstance(p.models, StaticModels):
        return "RoleCall's curated list (no models endpoint)"
    assert isinstance(p.models, ModelsEndpoint)
    query = "?" + "&".join(f"{k}={v}" for k, v in p.models.query.items()) if p.models.query else ""
    public = "" if p.models.validates_key else " (public: does not prove the key)"
    return f"GET {p.models.path}{query}{public}"


def _key_check(p: Provider) -> str:
    check = p.key_check
    if isinstance(check, AuthEndpoint):
        where = f" on the {check.base} host" if check.base else ""
        return f"{check.method} {check.path}{where}, then the model list"
    if isinstance(check, ProbeChat):
        return f"one-token generation ({check.model or 'the pinned or first model'}), then the model list"
    if isinstance(check, TokenExchange):
        return "service-account token exchange, then the model list"
    return "the model list itself"
