"""BYOK provider configs: the person's connections to their own provider accounts.

This module grows with the BYOK providers issue (create, test, edit, delete). For now it answers
what the key vault needs: the E2E credentials to re-encrypt when the recovery phrase changes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rolecall.storage.tables import ProviderConfig

Sessions = async_sessionmaker[AsyncSession]


async def e2e_credentials(db: Sessions, account_id: str) -> list[dict[str, str]]:
    async with db() as s:
        rows = await s.scalars(select(ProviderConfig).where(
            ProviderConfig.account_id == account_id, ProviderConfig.privacy_mode == "e2e"))
        return [{"config_id": r.id, "provider_id": r.provider_id, "dest_origin": r.dest_origin,
                 "credential": r.credential_ct or ""} for r in rows]
