"""Personal access tokens: how a person's own tools (editors, scripts, other chat front-ends) reach
the OpenAI-compatible API under ``/v1`` with their configs.

A token is ``rc_pat_`` + 43 base64url characters (256 random bits). It is shown once, at
creation; the database keeps only its SHA-256 and its last four characters (to tell tokens
apart). A token carries scopes ("chat", "models") and an optional expiry, and is good for
``/v1`` only: the web session and the settings API read the session cookie and nothing else.

Checking a token is on every API call, so the answer is kept in the shared cache for
``CHECK_TTL`` seconds under the token's hash (never the token). Revoking overwrites that entry,
so a revoked token stops at once on every replica; ``last_used_at`` is written when the entry
is refreshed, so it is exact to a minute and costs one write per token per minute at most.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, select, update

from rolecall.services.errors import Forbidden, Invalid, NotFound, ServiceError
from rolecall.services.fields import required_text
from rolecall.storage import direct
from rolecall.storage.cache import Cache
from rolecall.storage.db import Sessions
from rolecall.storage.tables import AccessToken, utcnow

PREFIX = "rc_pat_"
SCOPES = ("chat", "models")
MAX_NAME = 80
MAX_EXPIRY_DAYS = 366
MAX_TOKENS = 50
CHECK_TTL = 60.0


class TokenRefused(ServiceError):
    """No usable token: missing, malformed, unknown, revoked or expired (the message says which)."""

    status = 401
    code = "invalid_api_key"


class MissingScope(Forbidden):
    code = "insufficient_scope"


@dataclass(frozen=True)
class TokenView:
    id: str
    name: str
    hint: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()


@dataclass(frozen=True, repr=False)
class CreatedToken:
    """A new token: ``token`` is the only time its plaintext exists outside the person's hands."""

    view: TokenView
    token: str

    def __repr__(self) -> str:
        return f"CreatedToken(view={self.view!r}, token='[secret]')"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API call acts for: the token's account and what the token may do."""

    token_id: str
    account_id: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise MissingScope(f"This access token doesn't have the “{scope}” scope. Create a token with it in "
                               "Settings → Access Tokens.")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    chosen = set(scopes)
    unknown = chosen - set(SCOPES)
    if unknown or not chosen:
        raise Invalid("Choose what the token may do: chat, models, or both.", field="scopes")
    return tuple(s for s in SCOPES if s in chosen)


def check_name(name: str) -> str:
    return required_text(name, field="name", limit=MAX_NAME,
                         empty="Give the token a name, e.g. “VS Code on my laptop”.",
                         too_long=f"Token names can be at most {MAX_NAME} characters.")


def _view(row: AccessToken) -> TokenView:
    return TokenView(row.id, row.name, row.hint, tuple(row.scopes.split(",")), row.created_at, row.expires_at,
                     row.last_used_at)


async def create(db: Sessions, account_id: str, name: str, scopes: Iterable[str],
                 expires_in_days: int | None = None) -> CreatedToken:
    name, chosen = check_name(name), check_scopes(scopes)
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise Invalid(f"Expiry is 1 to {MAX_EXPIRY_DAYS} days, or never.", field="expires_in_days")
    token = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = AccessToken(account_id=account_id, name=name, token_hash=digest(token), hint=token[-4:],
                      scopes=",".join(chosen), created_at=now,
                      expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
    async with db.begin() as s:
        live = await s.scalar(select(func.count()).select_from(AccessToken).where(
            AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None)))
        if (live or 0) >= MAX_TOKENS:
            raise Invalid(f"You have {MAX_TOKENS} access tokens already. Revoke one you no longer use first.")
        s.add(row)
    return CreatedToken(_view(row), token)


async def list_tokens(db: Sessions, account_id: str) -> list[TokenView]:
    """The account's tokens that are not revoked (expired ones too, marked), newest first."""
    async with db() as s:
        rows = await s.scalars(select(AccessToken).where(
            AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None)
        ).order_by(AccessToken.created_at.desc(), AccessToken.id))
        return [_view(r) for r in rows]


async def revoke(db: Sessions, cache: Cache, account_id: str, token_id: str) -> None:
    async with db.begin() as s:
        row = await s.scalar(select(AccessToken).where(
            AccessToken.id == token_id, AccessToken.account_id == account_id, AccessToken.revoked_at.is_(None)))
        if row is None:
            raise NotFound("No such access token.")
        row.revoked_at = utcnow()
        token_hash, tombstone = row.token_hash, f"{row.id}|{row.account_id}|{row.scopes}||revoked"
    # A tombstone rather than a delete: a check that read the row just before the revocation
    # will not put its "ok" back over it (`_load` only fills an empty entry).
    await cache.set(_cache_key(token_hash), tombstone.encode(), CHECK_TTL)


# --- checking a presented token (every API call) ----------------------------------------------

def _cache_key(token_hash: str) -> str:
    return f"pat:{token_hash}"


async def authenticate(db: Sessions, cache: Cache, presented: str | None) -> Principal:
    """The principal of a presented token, or `TokenRefused` saying what is wrong with it."""
    if not presented:
        raise TokenRefused("No access token. Send it as “Authorization: Bearer rc_pat_…”; create one in "
                           "Settings → Access Tokens.")
    if not presented.startswith(PREFIX) or len(presented) > 128:
        raise TokenRefused("That is not a RoleCall access token (they start with “rc_pat_”). Create one in "
                           "Settings → Access Tokens.")
    token_hash = digest(presented)
    cached = await cache.get(_cache_key(token_hash))
    record = cached.decode() if cached is not None else await _load(db, cache, token_hash)
    token_id, account_id, scopes, expires, state = record.split("|")
    if state == "unknown":
        raise TokenRefused(f"Incorrect access token provided: rc_pat_…{presented[-4:]}. Check it, or create a new "
                           "one in Settings → Access Tokens.")
    if state == "revoked":
        raise TokenRefused("This access token was revoked. Create a new one in Settings → Access Tokens.")
    if expires and float(expires) <= time.time():
        raise TokenRefused("This access token has expired. Create a new one in Settings → Access Tokens.")
    return Principal(token_id, account_id, frozenset(scopes.split(",")))


# A cache miss (once per token per CHECK_TTL): two statements straight on the driver (`storage/direct.py`).
_BY_HASH = direct.Query(select(AccessToken.id, AccessToken.account_id, AccessToken.scopes, AccessToken.expires_at,
                               AccessToken.revoked_at).where(AccessToken.token_hash == bindparam("hash_")))
_USED = direct.Query(update(AccessToken).where(AccessToken.id == bindparam("id_"))
                     .values(last_used_at=bindparam("now_", type_=AccessToken.__table__.c.last_used_at.type)))


async def _load(db: Sessions, cache: Cache, token_hash: str) -> str:
    row = await direct.first(db, _BY_HASH, {"hash_": token_hash})
    if row is None:  # not cached: random guesses must not fill the cache
        return "||||unknown"
    if row.revoked_at is None:
        await direct.write(db, _USED, {"id_": row.id, "now_": utcnow()})
    expires = str(row.expires_at.timestamp()) if row.expires_at else ""
    record = f"{row.id}|{row.account_id}|{row.scopes}|{expires}|{'revoked' if row.revoked_at else 'ok'}"
    key = _cache_key(token_hash)
    if not await cache.add(key, record.encode(), CHECK_TTL):  # only an empty entry: a revocation may have landed
        cached = await cache.get(key)
        return cached.decode() if cached is not None else record
    return record
