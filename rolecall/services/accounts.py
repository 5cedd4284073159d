"""Accounts: sign-up, log-in (rate limited), sessions, log-out.

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile) in a worker
thread, so a log-in never stalls the event loop, and at most ``HASH_CONCURRENCY`` at once per
process: each run takes 64 MiB, so a burst of log-ins must queue instead of taking the memory. A session is a random token in an HttpOnly
cookie; the database keeps only its SHA-256, so a leaked database row cannot be replayed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from rolecall.services.errors import Conflict, Invalid, RateLimited, Unauthorized
from rolecall.storage import direct
from rolecall.storage.cache import Cache
from rolecall.storage.db import Sessions, rowcount
from rolecall.storage.tables import Account, LoginSession, utcnow

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,39}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024

HASH_CONCURRENCY = 4  # 4 x 64 MiB at most; more would not finish sooner on a small machine anyway
HASH_QUEUE = 64  # waiting beyond this answers 429 at once rather than queueing without end

_hasher = PasswordHasher()
# Verified against when the name is unknown, so both failures cost one Argon2 run.
_DUMMY_HASH = _hasher.hash("rolecall-dummy-password")

T = TypeVar("T")


class HashGate:
    """Runs password hashes in worker threads, at most ``limit`` at a time in this process.

    ``running`` and ``peak`` say how many run now and the most that ever ran together.
    """

    def __init__(self, limit: int, queue: int) -> None:
        self.limit, self.queue = limit, queue
        self.running = self.waiting = self.peak = 0
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        if self.waiting >= self.queue:
            raise RateLimited("The server is busy checking passwords. Try again in a few seconds.", retry_after=5)
        slots = self._slots.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(self.limit))
        self.waiting += 1
        try:
            await slots.acquire()
        finally:
            self.waiting -= 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            return await asyncio.to_thread(work, *args)
        finally:
            self.running -= 1
            slots.release()


PASSWORD_HASHES = HashGate(HASH_CONCURRENCY, HASH_QUEUE)


@dataclass(frozen=True)
class AccountView:
    id: str
    name: str
    created_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountView:
        return cls(account.id, account.name, account.created_at)


def check_name(name: str) -> str:
    name = name.strip()
    if not NAME_PATTERN.match(name):
        raise Invalid(
            "Names are 3 to 40 characters: letters, digits, '_', '-' or '.', starting with a letter or digit.",
            field="name",
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"Passwords need at least {MIN_PASSWORD} characters.", field="password")
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"Passwords can be at most {MAX_PASSWORD} characters.", field="password")
    return password


async def sign_up(db: Sessions, name: str, password: str) -> AccountView:
    name = check_name(name)
    password_hash = await PASSWORD_HASHES.run(_hasher.hash, check_password(password))
    account = Account(name=name, name_key=name.lower(), password_hash=password_hash)
    try:
        async with db.begin() as s:
            if await s.scalar(select(Account.id).where(Account.name_key == name.lower())):
                raise Conflict(f"The name “{name}” is taken. Try another.", field="name")
            s.add(account)
    except IntegrityError:  # two sign-ups raced for the same name
        raise Conflict(f"The name “{name}” is taken. Try another.", field="name") from None
    return AccountView.of(account)


async def log_in(
    db: Sessions, cache: Cache, name: str, password: str, *, client: str, attempts: int, window: int
) -> AccountView:
    """Check the password; raises Unauthorized or RateLimited. Failures count per name and address.

    Every attempt is counted *before* the password is checked (increment, then compare), so
    parallel attempts cannot all pass a check that has not seen the others yet; a successful
    log-in takes its own count back, so a person who logs in fine is never throttled.
    """
    name_key = name.strip().lower()
    limit_keys = (f"login-fail:{client}:{name_key}", f"login-fail:{client}")
    counts = [await cache.incr(key, window) for key in limit_keys]
    if counts[0] > attempts or counts[1] > attempts * 5:
        raise RateLimited("Too many failed log-ins. Wait a few minutes, then try again.", retry_after=window)
    async with db() as s:
        account = await s.scalar(select(Account).where(Account.name_key == name_key))
    ok = await PASSWORD_HASHES.run(_verify, account.password_hash if account else _DUMMY_HASH, password)
    if account is None or not ok:
        if account is None:
            raise Unauthorized(f"There is no account named “{name.strip()}”. Check the spelling, or sign up.", field="name")
        raise Unauthorized("That password is not right. Check it and try again.", field="password")
    for key in limit_keys:
        await cache.incr(key, window, amount=-1)
    if _hasher.check_needs_rehash(account.password_hash):
        await _rehash(db, account.id, password)
    return AccountView.of(account)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def _rehash(db: Sessions, account_id: str, password: str) -> None:
    new_hash = await PASSWORD_HASHES.run(_hasher.hash, password)
    async with db.begin() as s:
        account = await s.get(Account, account_id)
        if account is not None:
            account.password_hash = new_hash


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_session(db: Sessions, account_id: str, days: int) -> str:
    """Create a session and return its token (for the cookie; never stored)."""
    token = secrets.token_urlsafe(32)
    async with db.begin() as s:
        s.add(LoginSession(token_hash=_token_hash(token), account_id=account_id, expires_at=utcnow() + timedelta(days=days)))
    return token


# Every signed-in request makes this lookup: a Core statement built once, reading only what the
# view needs (not the password hash), with no ORM object made.
_ACCOUNTS, _SESSIONS = (cast(Table, m.__table__) for m in (Account, LoginSession))
_SESSION_ACCOUNT = direct.Query(
    select(_ACCOUNTS.c.id, _ACCOUNTS.c.name, _ACCOUNTS.c.created_at, _SESSIONS.c.expires_at)
    .select_from(_ACCOUNTS.join(_SESSIONS, _SESSIONS.c.account_id == _ACCOUNTS.c.id))
    .where(_SESSIONS.c.token_hash == bindparam("token"), _SESSIONS.c.expires_at > bindparam("now")))


async def session_account(db: Sessions, cache: Cache, token: str) -> AccountView | None:
    """The account a session token signs in, or None (unknown, ended or expired).

    Every signed-in request asks, so the answer is kept in the shared cache for
    ``SESSION_CHECK_TTL`` seconds under the token's hash (never the token), as access tokens are.
    Log-out overwrites the entry, so an ended session stops at once on every replica."""
    token_hash = _token_hash(token)
    cached = await cache.get(_session_key(token_hash))
    record = cached.decode() if cached is not None else await _load_session(db, cache, token_hash)
    if record is None or record == _ENDED:
        return None
    expires, account_id, created_at, name = record.split("|", 3)
    if float(expires) <= time.time():
        return None
    return AccountView(account_id, name, datetime.fromisoformat(created_at))


async def end_session(db: Sessions, cache: Cache, token: str) -> None:
    token_hash = _token_hash(token)
    async with db.begin() as s:
        await s.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash))
    # A tombstone rather than a delete: a lookup that read the row just before it was deleted
    # cannot put the session back (`_load_session` only fills an empty entry).
    await cache.set(_session_key(token_hash), _ENDED.encode(), SESSION_CHECK_TTL)


SESSION_CHECK_TTL = 60.0
_ENDED = "ended"


def _session_key(token_hash: str) -> str:
    return f"login:{token_hash}"


async def _load_session(db: Sessions, cache: Cache, token_hash: str) -> str | None:
    """The session's cache record ("expires|account id|created at|name"), read from the database;
    None for a token with no live session (not cached: random guesses must not fill the cache)."""
    row = await direct.first(db, _SESSION_ACCOUNT, {"token": token_hash, "now": utcnow()})
    if row is None:
        return None
    account_id, name, created_at, expires_at = row
    record = f"{expires_at.timestamp()}|{account_id}|{created_at.isoformat()}|{name}"
    ttl = min(SESSION_CHECK_TTL, expires_at.timestamp() - time.time())
    key = _session_key(token_hash)
    if ttl > 0 and not await cache.add(key, record.encode(), ttl):
        cached = await cache.get(key)  # a log-out landed meanwhile
        return cached.decode() if cached is not None else record
    return record


async def purge_expired_sessions(db: Sessions) -> int:
    async with db.begin() as s:
        result = await s.execute(delete(LoginSession).where(LoginSession.expires_at <= utcnow()))
    return rowcount(result)
