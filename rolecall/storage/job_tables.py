"""Job tables: background jobs and their schedules (docs/decisions.md, "Issue 13: jobs that survive faults")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql import false

from rolecall.storage.tables import Base, new_id, utcnow


class JobRecord(Base):
    """One background job: what to run, who owns it, and how far it got (docs/decisions.md, "Issue 13").

    The row, not the queue, is the truth: a delivery runs the job only after claiming the row
    (a lease with an expiry, ``lease_owner``/``lease_until``), and writes the result only while it
    still holds that lease, so a second delivery of the same job can neither run it alongside nor
    write a second result.
    """

    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        Index("ix_job_status_lease_until", "status", "lease_until"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    # NULL for the server's own housekeeping; an account's jobs answer only to that account.
    account_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The same key enqueued twice is one job ("refresh:<config>", "turn:<scene>:<n>").
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column()
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    # What a running attempt has recorded so far; a retry sees it and replaces it.
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str] = mapped_column(Text, default="")
    # A retry after a lost worker says so here ("interrupted after 1 attempt ...").
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class JobSchedule(Base):
    """A job that fires on a schedule: every day at a time of day in ``time_zone``, or every N seconds.

    Every worker's scheduler loop claims due rows by moving ``next_run_at`` forward with a
    conditional UPDATE (``WHERE next_run_at = <the value read>``); only the worker whose UPDATE
    changed the row enqueues, so each due time fires once however many workers run.
    """

    __tablename__ = "job_schedule"
    __table_args__ = (
        CheckConstraint("(daily_at IS NULL) <> (every_seconds IS NULL)", name="one_rule"),
        UniqueConstraint("account_id", "label"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_id)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(120))
    job_name: Mapped[str] = mapped_column(String(80))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    daily_at: Mapped[str | None] = mapped_column(String(5))  # "HH:MM" on the clock of time_zone
    # The IANA zone the person meant (their browser's); next_run_at is always UTC.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    every_seconds: Mapped[int | None] = mapped_column(Integer)
    # A one-off ("regenerate this reply at 03:00"): fired once at ``next_run_at``, then removed.
    run_once: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    next_run_at: Mapped[datetime] = mapped_column(index=True)
    last_job_id: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
