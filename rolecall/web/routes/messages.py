"""A scene's messages: send (streamed), regenerate, continue, edit, flip alternatives, delete.

The generation routes answer ``text/event-stream`` (see `rolecall.web.sse`). Anything wrong with
the request itself (another account's scene: 404; bad input: 400/422) is a normal JSON error
before the stream starts; a failed generation is an ``error`` event inside it. An End-to-End
config's key comes in the body as ``key`` for this one request: it becomes a `HandedKey` and is
dropped when the request ends.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, SecretStr

from rolecall.services import connections, gateway, messages
from rolecall.services.resources import Resources
from rolecall.web import lean
from rolecall.web.deps import CurrentAccount, ResourcesDep
from rolecall.web.scene_json import MessageOut, error_json, message_json, model_json
from rolecall.web.security import csrf_protect
from rolecall.web.sse import EventStream, delta, event, first_text_out

api = APIRouter(prefix="/api/scenes/{scene_id}/messages", tags=["messages"])
STREAM: dict[int | str, dict[str, Any]] = {200: {"content": {"text/event-stream": {}},
                "description": "Server-sent events: user, skipped (a fallback slot passed over), start, "
                "delta ({\"t\": text}), done or error"}}


class KeyIn(BaseModel):
    """An End-to-End config's key, opened by the browser for this request only (never stored)."""

    api_key: SecretStr | None = Field(None, max_length=24 * 1024)
    headers: dict[str, str] | str | None = Field(None, description="Custom header values sealed with the key")

    def handed(self) -> connections.HandedKey:
        key = self.api_key.get_secret_value() if self.api_key else None
        lines = self.headers if isinstance(self.headers, str) else "\n".join(f"{k}: {v}" for k, v in (self.headers or {}).items())
        return connections.HandedKey.from_form(key, lines)

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        return [("api_key", "[secret]" if self.api_key else None), ("headers", "[secret]" if self.headers else None)]


KEYS_DOC = ("More End-to-End keys, by config id, for fallback slots of the scene's preset (`key` is the key of "
             "the scene's own model)")


class KeyOnly(BaseModel):
    key: KeyIn | None = None
    keys: dict[str, KeyIn] | None = Field(None, max_length=16, description=KEYS_DOC)


class ImageIn(BaseModel):
    """An image for the person's message: only models that take images are tried for the turn."""

    media_type: str = Field(max_length=40, description="image/png, image/jpeg, image/webp or image/gif")
    data: str = Field(max_length=messages.MAX_IMAGE_BYTES * 4 // 3 + 8, description="Base64, at most 5 MB decoded")

    def __repr_args__(self):  # type: ignore[no-untyped-def]
        return [("media_type", self.media_type), ("data", f"[{len(self.data)} base64 chars]")]


class SendIn(KeyOnly):
    text: str = Field("", max_length=messages.MAX_TEXT * 2, description="Empty: no new message, the character replies")
    image: ImageIn | None = None


class MessagePatch(BaseModel):
    text: str | None = Field(None, max_length=messages.MAX_TEXT * 2)
    active: int | None = Field(None, ge=0, description="Show this alternative")


def _key(prepared: gateway.Prepared, body: KeyOnly) -> connections.Key | dict[str, connections.HandedKey]:
    """The handed keys: ``key`` belongs to the scene's own model, ``keys`` name their configs."""
    keys = {config_id: key.handed() for config_id, key in (body.keys or {}).items()}
    if body.key is not None:
        if not keys:
            return body.key.handed()
        if prepared.turn.model_section:
            keys.setdefault(prepared.turn.model_section, body.key.handed())
    return keys or connections.ServerKey()


async def _frames(res: Resources, prepared: gateway.Prepared, key: connections.Key | dict[str, connections.HandedKey]
                  ) -> AsyncGenerator[bytes, None]:
    # Closed explicitly when the stream ends early, so the partial reply is kept before the request ends.
    start = b""
    async with aclosing(gateway.run(res, prepared, key)) as items:
        async for item in items:
            if item.name == "delta":
                # `start` comes with the first text in hand: one write (one pass down the send chain) for both
                if start:
                    yield start + delta(item.data)
                    start = b""
                    await first_text_out()
                else:
                    yield delta(item.data)
            elif item.name == "start":
                start = event("start", {**item.data, "model": model_json(item.data["model"])})
            elif item.name == "error":
                yield start + event("error", error_json(item.data["error"], item.data["reply"]))
                start = b""
            elif item.name == "skipped":  # a slot of the chain passed over: {position, label, model, kind, reason}
                yield event("skipped", item.data)
            else:  # user, done: a message
                yield event(item.name, message_json(item.data))


@api.post("", responses=STREAM, response_class=EventStream, summary="Send a message; the reply streams back")
async def send(res: ResourcesDep, account: CurrentAccount, scene_id: str, body: SendIn) -> EventStream:
    image = messages.check_image(body.image.media_type, body.image.data) if body.image else None
    prepared = await gateway.prepare(res, account.id, scene_id, "send", text=body.text, image=image)
    return EventStream(_frames(res, prepared, _key(prepared, body)))


async def send_lean(request: Request) -> Response:
    """`send` as `rolecall serve` runs it: the same checks as its dependencies, made directly (`web/lean.py`)."""
    await csrf_protect(request)
    res = lean.resources(request)
    account = await lean.signed_in(request, res)
    return await send(res, account, request.path_params["scene_id"], await lean.body(SendIn, request))


LEAN = [lean.route(api.prefix, send_lean, "POST")]


@api.post("/{message_id}/regenerate", responses=STREAM, response_class=EventStream,
          summary="A new alternative of a reply (the earlier ones are kept)")
async def regenerate(res: ResourcesDep, account: CurrentAccount, scene_id: str, message_id: str,
                     body: KeyOnly) -> EventStream:
    prepared = await gateway.prepare(res, account.id, scene_id, "regenerate", message_id=message_id)
    return EventStream(_frames(res, prepared, _key(prepared, body)))


@api.post("/{message_id}/continue", responses=STREAM, response_class=EventStream, summary="Extend the last reply")
async def continue_reply(res: ResourcesDep, account: CurrentAccount, scene_id: str, message_id: str,
                         body: KeyOnly) -> EventStream:
    prepared = await gateway.prepare(res, account.id, scene_id, "continue", message_id=message_id)
    return EventStream(_frames(res, prepared, _key(prepared, body)))


@api.patch("/{message_id}", response_model=MessageOut, summary="Edit a message's text or show another alternative")
async def edit(res: ResourcesDep, account: CurrentAccount, scene_id: str, message_id: str, body: MessagePatch) -> MessageOut:
    view = await messages.edit_message(res.db, account.id, scene_id, message_id, text=body.text, active=body.active)
    return MessageOut.of(view)


@api.delete("/{message_id}", status_code=204, summary="Delete a message")
async def delete(res: ResourcesDep, account: CurrentAccount, scene_id: str, message_id: str) -> Response:
    await messages.delete_message(res.db, account.id, scene_id, message_id)
    return Response(status_code=204)
