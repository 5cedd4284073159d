"""Settings: one object, read once, from the environment and an optional TOML file.

Precedence, highest first: values passed in code (the CLI's flags), environment variables,
the TOML file, then the defaults below. Environment variables are ``ROLECALL_<NAME>``;
nested sections use a double underscore (``ROLECALL_NETWORK__ALLOW_PRIVATE='["10.0.0.0/8"]'``).
``DATABASE_URL`` and ``REDIS_URL`` are also read without the prefix, because that is what
every hosting platform sets.

The settings object is built in ``cli.py`` and passed to ``create_app(settings)``; nothing
imports a module-level instance, so a test builds its own.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The TOML file for the Settings being built right now (load_settings sets it for one call).
_config_file: ContextVar[Path | None] = ContextVar("rolecall_config_file", default=None)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "rolecall"


class NetworkSettings(BaseModel):
    """Where outbound provider calls may go (the SSRF guard's policy)."""

    allow_private: list[str] = Field(
        default_factory=list,
        description="CIDR ranges that are otherwise refused but allowed here, "
        'e.g. ["192.168.1.0/24"] for a home Ollama. Empty: public addresses only.',
    )
    allow_hosts: list[str] = Field(
        default_factory=list,
        description='Exact host names allowed even if they resolve to a private address, e.g. ["ollama.lan"].',
    )
    connect_timeout: float = Field(10.0, description="Seconds to open a connection to a provider.")
    read_timeout: float = Field(120.0, description="Seconds to wait between bytes from a provider.")
    max_response_bytes: int = Field(32 * 1024 * 1024, description="Largest provider response body accepted.")
    max_connections: int = Field(100, ge=1, description="Outbound connections open at once, to all providers together.")


class LimitSettings(BaseModel):
    """Per-account limits on provider calls (see docs/decisions.md, "Issue 10: limits under abuse")."""

    test_deadline: float = Field(20.0, gt=0, description="Seconds one Test Key may take in all, every request included.")
    refresh_deadline: float = Field(60.0, gt=0, description="Seconds one background model-list refresh may take in all.")
    first_token_deadline: float = Field(90.0, gt=0, description="Seconds a streamed reply may take to send its first text.")
    chain_deadline: float = Field(120.0, gt=0, description="Seconds a whole fallback chain may take to get a first "
                                  "text, every model tried included; later slots are skipped once it has passed.")
    outbound_per_account: int = Field(8, ge=1, description="Provider calls one account may have running at once.")
    outbound_per_origin: int = Field(32, ge=1, description="Provider calls to one destination running at once, all accounts.")
    tests_per_minute: int = Field(30, ge=1, description="Test Key requests per account per minute.")
    saves_per_minute: int = Field(30, ge=1, description="Provider config saves and edits per account per minute.")
    api_requests_per_minute: int = Field(
        120, ge=1, description="Requests one personal access token may make to the OpenAI-compatible API (/v1) per minute.",
    )


class JobSettings(BaseModel):
    """Background jobs (see docs/decisions.md, "Issue 13: jobs that survive faults")."""

    lease_seconds: float = Field(30.0, gt=0, description="A running job's claim lasts this long unless its worker "
                                 "renews it (every third of it); a worker that dies loses it after this.")
    max_attempts: int = Field(3, ge=1, description="Tries per job (a lost worker counts as one) before it fails.")
    retry_delay: float = Field(5.0, ge=0, description="Seconds before the first retry of a failed job; doubled each time.")
    tick_seconds: float = Field(5.0, gt=0, description="How often each worker looks for due schedules and lost jobs.")


class PremiereUpstream(BaseModel):
    """One server the Premiere Theater sends requests to, with the operator's key."""

    model_config = {"extra": "forbid"}

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="Name the models refer to.")
    provider: str = Field(description="A registry provider id (openai, anthropic, openrouter, custom_openai, ...).")
    base_url: str | None = Field(None, description="Base URL; default: the provider's own. "
                                 "A local vLLM/Ollama: http://127.0.0.1:8001/v1.")
    api_key_env: str | None = Field(None, description="Environment variable holding the operator's key.")
    api_key_file: Path | None = Field(None, description="File holding the operator's key (first line).")
    allow_private: bool = Field(False, description="Let this upstream's host be a private or loopback address "
                                "(for Premiere calls only; people's own configs keep the [network] rules).")


class PremiereModel(BaseModel):
    """One hosted model offered to everyone, with the metadata the pickers show."""

    model_config = {"extra": "forbid"}

    id: str = Field(min_length=1, max_length=200, description="The id people pick.")
    upstream: str = Field(description="The `id` of the upstream that serves it.")
    upstream_model: str | None = Field(None, description="The model id sent upstream; default: `id`.")
    name: str | None = None
    context_window: int | None = Field(None, gt=0)
    max_output: int | None = Field(None, gt=0)
    capabilities: list[str] = Field(default_factory=list)
    input_price: float | None = Field(None, ge=0, description="USD per million input tokens (for cost estimates).")
    output_price: float | None = Field(None, ge=0, description="USD per million output tokens.")


class PremiereSettings(BaseModel):
    """The Premiere Theater: the operator's hosted models and every account's token balance."""

    model_config = {"extra": "forbid"}

    upstreams: list[PremiereUpstream] = Field(default_factory=list)
    models: list[PremiereModel] = Field(default_factory=list)
    starting_grant: int = Field(100_000, ge=0, description="Tokens a new account starts with.")
    refill_tokens: int = Field(100_000, ge=0, description="At each refill the balance is topped up to this.")
    refill_every: Literal["day", "week", "month", "never"] = Field(
        "day", description="When the balance is topped up (UTC: midnight, Monday, the 1st).")

    @field_validator("models")
    @classmethod
    def _unique_models(cls, models: list[PremiereModel]) -> list[PremiereModel]:
        ids = [m.id for m in models]
        if len(ids) != len(set(ids)):
            raise ValueError("[premiere] models: each id may appear once")
        return models

    @model_validator(mode="after")
    def _upstreams_known(self) -> PremiereSettings:
        known = {u.id for u in self.upstreams}
        if len(known) != len(self.upstreams):
            raise ValueError("[premiere] upstreams: each id may appear once")
        for model in self.models:
            if model.upstream not in known:
                raise ValueError(f"[premiere] model {model.id!r} names upstream {model.upstream!r}, which is not listed")
        return self


class BreakerSettings(BaseModel):
    """The per-config circuit breaker (services/breaker.py)."""

    model_config = {"extra": "forbid"}

    threshold: int = Field(3, ge=1, description="Consecutive timeouts/5xx/connection errors that open a config's circuit.")
    cooldown: float = Field(30.0, gt=0, description="Seconds an open circuit skips the config before one probe is allowed.")
    window: float = Field(300.0, gt=0, description="A failure older than this, with nothing since, is forgotten.")


class Settings(BaseSettings):
    """Everything an operator can set. ``rolecall serve --help`` prints this list."""

    model_config = SettingsConfigDict(
        env_prefix="ROLECALL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the embedded database and generated key files live.",
    )
    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port to listen on.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("database_url", "ROLECALL_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL. Unset: SQLite in the data dir. "
        "postgresql+asyncpg://user@host/db for the scale-out shape.",
    )
    redis_url: str | None = Field(
        None,
        validation_alias=AliasChoices("redis_url", "ROLECALL_REDIS_URL", "REDIS_URL"),
        description="redis://host:6379/0 to share the job queue, rate limits and caches between "
        "processes. Unset: in-process queue and cache (one process only).",
    )
    redis_prefix: str = Field(
        "rolecall", pattern=r"^[A-Za-z0-9_.-]{1,40}$",
        description="Prefix of every Redis key and queue name, so several deployments can share one Redis.",
    )
    embedded_worker: bool | None = Field(
        None,
        description="Run background jobs inside `serve`. Default: on without REDIS_URL, off with it "
        "(run `rolecall worker` instead).",
    )
    encryption_keys: SecretStr | None = Field(
        None,
        description="Server key ring for Server-Accessible provider keys: 'kid:<base64 of 32 random bytes>' "
        "entries separated by commas; the first is the primary. Required with PostgreSQL.",
    )
    encryption_keys_file: Path | None = Field(
        None,
        description="File holding the key ring (same format, one entry per line). Default with SQLite: "
        "<data_dir>/encryption.keys, created with mode 0600 on first start. Back it up with the database.",
    )
    model_list_max_age_hours: float = Field(
        24.0, gt=0, description="A cached provider model list older than this is refreshed in the background.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    session_days: int = Field(30, ge=1, description="How long a login lasts.")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Secure flag on cookies. auto: set when the request arrived over HTTPS "
        "(X-Forwarded-Proto is trusted from forwarded_allow_ips).",
    )
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="Proxies whose X-Forwarded-* headers are trusted ('*' for any)."
    )
    login_attempts: int = Field(10, ge=1, description="Failed log-ins allowed per name and address per window.")
    login_window_seconds: int = Field(300, ge=1, description="Length of the log-in rate-limit window.")
    max_request_bytes: int = Field(
        256 * 1024, ge=16 * 1024,
        description="Largest request body accepted (413 above it); a Vertex service-account JSON is ~2.5 KB.",
    )
    network: NetworkSettings = Field(default_factory=NetworkSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    premiere: PremiereSettings = Field(default_factory=PremiereSettings)
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file.get() or os.environ.get("ROLECALL_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'rolecall.db'}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def run_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.redis_url is None


def normalize_database_url(url: str) -> str:
    """Accept the URLs hosting platforms hand out and pick our async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
    return url


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings once. ``overrides`` are the CLI's flags (None means not given)."""
    path = Path(config_file) if config_file is not None else None
    if path is not None and not path.is_file():
        raise SettingsError(f"Config file not found: {path}")
    given = {name: value for name, value in overrides.items() if value is not None}
    token = _config_file.set(path)
    try:
        return Settings(**given)
    finally:
        _config_file.reset(token)


class SettingsError(Exception):
    """The configuration cannot be used; the message says what to fix."""


_SECTIONS: dict[str, type[BaseModel]] = {
    "network": NetworkSettings, "limits": LimitSettings, "jobs": JobSettings, "premiere": PremiereSettings,
    "breaker": BreakerSettings}
_SECTION_HELP = {
    ("premiere", "upstreams"): "[[premiere.upstreams]] tables: id, provider, base_url, api_key_env or api_key_file, "
                               "allow_private. See README.md, 'The Premiere Theater'.",
    ("premiere", "models"): "[[premiere.models]] tables: id, upstream, upstream_model, name, context_window, "
                            "max_output, capabilities, input_price, output_price.",
}


def describe_settings() -> str:
    """Help text for `rolecall serve --help`: every setting, its variable and its meaning.

    Click re-wraps help paragraphs into one block; a paragraph whose first line is ``\b`` is kept
    as written, so each setting is its own such paragraph: the name, then its meaning indented."""
    import textwrap

    def entry(name: str, description: str | None) -> str:
        body = textwrap.fill(description or "", width=96, initial_indent="      ", subsequent_indent="      ")
        return f"\b\n  {name}\n{body}"

    lines = ["\b\nSettings, as environment variables. In the TOML file (--config or ROLECALL_CONFIG), use the\n"
             "lower-case name without the prefix; [network] and [limits] settings go in tables of those names."]
    for name, field in Settings.model_fields.items():
        if name in _SECTIONS:
            for sub, subfield in _SECTIONS[name].model_fields.items():
                lines.append(entry(f"ROLECALL_{name.upper()}__{sub.upper()}  ([{name}] {sub})",
                                   subfield.description or _SECTION_HELP.get((name, sub), "")))
            continue
        extra = " (or " + name.upper() + ")" if name in ("database_url", "redis_url") else ""
        lines.append(entry(f"ROLECALL_{name.upper()}{extra}", field.description))
    return "\n\n".join(lines)
