"""Settings → Access Tokens: create (shown once), list, revoke. Session-authorized, like all of /api.

A personal access token is accepted only under /v1; these routes read the session cookie alone.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from rolecall.services import access_tokens
from rolecall.services.access_tokens import TokenView
from rolecall.web.deps import CurrentAccount, ResourcesDep

api = APIRouter(prefix="/api/access-tokens", tags=["access tokens"])


class TokenIn(BaseModel):
    name: str = Field(max_length=200, description="What the token is for, e.g. “VS Code on my laptop”")
    scopes: list[str] = Field(default_factory=lambda: ["chat", "models"], max_length=4,
                              description='"chat" (POST /v1/chat/completions) and/or "models" (GET /v1/models)')
    expires_in_days: int | None = Field(None, description="Days until it stops working (1-366); null: never")


class TokenOut(BaseModel):
    id: str
    name: str
    hint: str = Field(description="The last four characters of the token")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Exact to a minute")
    expired: bool

    @classmethod
    def of(cls, view: TokenView) -> TokenOut:
        return cls(id=view.id, name=view.name, hint=view.hint, scopes=list(view.scopes), created_at=view.created_at,
                   expires_at=view.expires_at, last_used_at=view.last_used_at, expired=view.expired)


class CreatedOut(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again")


@api.get("", summary="Your access tokens (not revoked), newest first")
async def list_tokens(res: ResourcesDep, account: CurrentAccount) -> list[TokenOut]:
    return [TokenOut.of(v) for v in await access_tokens.list_tokens(res.db, account.id)]


@api.post("", status_code=201, summary="Create an access token for the OpenAI-compatible API (shown once)")
async def create_token(res: ResourcesDep, account: CurrentAccount, body: TokenIn) -> CreatedOut:
    created = await access_tokens.create(res.db, account.id, body.name, body.scopes, body.expires_in_days)
    return CreatedOut(**TokenOut.of(created.view).model_dump(), token=created.token)


@api.delete("/{token_id}", status_code=204, summary="Revoke an access token (it stops working at once)")
async def revoke_token(res: ResourcesDep, account: CurrentAccount, token_id: str) -> Response:
    await access_tokens.revoke(res.db, res.cache, account.id, token_id)
    return Response(status_code=204)
