"""The OpenAI-compatible API's edges over raw HTTP: tokens (bad, revoked, expired, wrong scope), the
session cookie refused, End-to-End configs and other accounts' labels unreachable, rate limits."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from rolecall.storage.tables import AccessToken, utcnow
from tests.fakes.fixtures import _openai_server, fake_openai  # noqa: F401
from tests.helpers import make_client
from tests.web.openai_api_helpers import (  # noqa: F401
    add_e2e_config,
    add_server_config,
    alice,
    bob,
    new_token,
    post,
    settings,
)

CHAT = {"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "Hello?"}]}


@pytest.fixture
async def raw(app):  # type: ignore[no-untyped-def]
    async with make_client(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_openai_error(response: httpx.Response, status: int, code: str | None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


async def test_missing_malformed_and_unknown_tokens_are_401_invalid_api_key(raw, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    for headers in ({}, {"Authorization": "Basic abc"}, bearer("sk-not-ours"), bearer("rc_pat_" + "A" * 43)):
        response = await raw.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert_openai_error(response, 401, "invalid_api_key")
        assert response.headers["www-authenticate"] == "Bearer"
    assert not [r for r in fake_openai.requests if r.path.endswith("/chat/completions")]


async def test_the_session_cookie_alone_is_refused(alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    # alice.client carries a valid session cookie (and the CSRF cookie): neither opens /v1.
    assert_openai_error(await alice.client.get("/v1/models"), 401, "invalid_api_key")
    assert_openai_error(await post(alice.client, "/v1/chat/completions", CHAT), 401, "invalid_api_key")


async def test_a_token_does_not_open_the_web_session_or_the_settings_api(raw, alice) -> None:  # type: ignore[no-untyped-def]
    token = await new_token(alice)
    assert (await raw.get("/api/me", headers=bearer(token))).status_code == 401
    assert (await raw.get("/api/provider-configs", headers=bearer(token))).status_code == 401
    assert (await raw.get("/api/access-tokens", headers=bearer(token))).status_code == 401
    page = await raw.get("/settings", headers=bearer(token))
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert (await raw.get("/v1/models", headers=bearer(token))).status_code == 200


async def test_a_revoked_token_stops_at_once(raw, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    token = await new_token(alice)
    assert (await raw.get("/v1/models", headers=bearer(token))).status_code == 200  # now cached
    token_id = (await alice.client.get("/api/access-tokens")).json()[0]["id"]
    response = await alice.client.delete(f"/api/access-tokens/{token_id}", headers=(await _csrf(alice)))
    assert response.status_code == 204
    error = assert_openai_error(await raw.get("/v1/models", headers=bearer(token)), 401, "invalid_api_key")
    assert "revoked" in error["message"]
    assert (await alice.client.get("/api/access-tokens")).json() == []


async def test_an_expired_token_is_refused(app, raw, alice) -> None:  # type: ignore[no-untyped-def]
    token = await new_token(alice, expires_in_days=1)
    async with app.state.res.db.begin() as s:  # a day later
        await s.execute(update(AccessToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    error = assert_openai_error(await raw.get("/v1/models", headers=bearer(token)), 401, "invalid_api_key")
    assert "expired" in error["message"]
    listed = (await alice.client.get("/api/access-tokens")).json()
    assert listed[0]["expired"] is True


async def test_scopes_limit_what_a_token_may_do(raw, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    chat_only = await new_token(alice, "chat only", ["chat"])
    models_only = await new_token(alice, "models only", ["models"])
    assert_openai_error(await raw.get("/v1/models", headers=bearer(chat_only)), 403, "insufficient_scope")
    assert (await raw.post("/v1/chat/completions", json=CHAT, headers=bearer(chat_only))).status_code == 200
    assert (await raw.get("/v1/models", headers=bearer(models_only))).status_code == 200
    assert_openai_error(await raw.post("/v1/chat/completions", json=CHAT, headers=bearer(models_only)), 403,
                        "insufficient_scope")


async def test_last_use_is_recorded(raw, alice) -> None:  # type: ignore[no-untyped-def]
    token = await new_token(alice)
    assert (await alice.client.get("/api/access-tokens")).json()[0]["last_used_at"] is None
    await raw.get("/v1/models", headers=bearer(token))
    assert (await alice.client.get("/api/access-tokens")).json()[0]["last_used_at"] is not None


async def test_an_end_to_end_config_is_unreachable_and_says_why(raw, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_e2e_config(alice, "Private", fake_openai)
    token = await new_token(alice)
    before = len(fake_openai.requests)
    error = assert_openai_error(await raw.post("/v1/chat/completions", json=dict(CHAT, model="Private/gpt-4o-mini"),
                                               headers=bearer(token)), 404, "model_not_found")
    assert "end-to-end encrypted" in error["message"] and error["param"] == "model"
    assert len(fake_openai.requests) == before  # nothing was sent upstream
    assert (await raw.get("/v1/models", headers=bearer(token))).json() == {"object": "list", "data": []}


async def test_another_accounts_label_is_not_found(raw, alice, bob, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(bob, "BobsWork", fake_openai)
    await add_server_config(alice, "Work", fake_openai)
    token = await new_token(alice)
    before = len(fake_openai.requests)
    theirs = await raw.post("/v1/chat/completions", json=dict(CHAT, model="BobsWork/gpt-4o-mini"), headers=bearer(token))
    nobody = await raw.post("/v1/chat/completions", json=dict(CHAT, model="Nobody/gpt-4o-mini"), headers=bearer(token))
    error = assert_openai_error(theirs, 404, "model_not_found")
    assert error["message"] == assert_openai_error(nobody, 404, "model_not_found")["message"].replace("Nobody", "BobsWork")
    assert len(fake_openai.requests) == before
    ids = [m["id"] for m in (await raw.get("/v1/models", headers=bearer(token))).json()["data"]]
    assert ids and not [i for i in ids if i.startswith("BobsWork/")]
    # Nor can alice revoke bob's token: 404, and it keeps working.
    bobs = await new_token(bob)
    bobs_id = (await bob.client.get("/api/access-tokens")).json()[0]["id"]
    assert (await alice.client.delete(f"/api/access-tokens/{bobs_id}", headers=await _csrf(alice))).status_code == 404
    assert (await raw.get("/v1/models", headers=bearer(bobs))).status_code == 200


async def test_presets_and_premiere_names_answer_not_found_until_they_exist(raw, alice) -> None:  # type: ignore[no-untyped-def]
    token = await new_token(alice)
    for model in ("preset:Daily", "premiere/rolecall-small", "no-slash-at-all", "Work/"):
        response = await raw.post("/v1/chat/completions", json=dict(CHAT, model=model), headers=bearer(token))
        assert_openai_error(response, 404, "model_not_found")


async def test_bad_bodies_are_400_with_the_param(raw, alice, fake_openai) -> None:  # type: ignore[no-untyped-def]
    await add_server_config(alice, "Work", fake_openai)
    headers = bearer(await new_token(alice))
    cases = [
        (b"{not json", None), (b"[]", None), (b'{"messages": []}', "model"),
        (b'{"model": "Work/gpt-4o-mini", "messages": "hi"}', "messages"),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "tool", "content": "x"}]}', "messages[0].role"),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
         "messages[0].content"),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "temperature": 9}', "temperature"),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "n": 2}', "n"),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}',
         "tools"),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}',
         "stream_options"),
        # Python's reader takes NaN and Infinity; JSON has no such numbers, and neither reaches a provider.
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "presence_penalty": NaN}',
         None),
        (b'{"model": "Work/gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "seed": -Infinity}', None),
    ]
    for body, param in cases:
        response = await raw.post("/v1/chat/completions", content=body, headers={**headers, "content-type": "application/json"})
        assert assert_openai_error(response, 400, None)["param"] == param, body
    assert not [r for r in fake_openai.requests if r.path.endswith("/chat/completions")]


async def test_unknown_paths_under_v1_answer_in_openai_shape(raw, alice) -> None:  # type: ignore[no-untyped-def]
    token = await new_token(alice)
    assert_openai_error(await raw.get("/v1/embeddings", headers=bearer(token)), 404, None)


async def test_a_token_is_rate_limited_per_minute_with_retry_after(make_settings, fake_openai) -> None:  # type: ignore[no-untyped-def]
    from asgi_lifespan import LifespanManager

    from rolecall.app import create_app
    from rolecall.config import LimitSettings, NetworkSettings
    from tests.web.openai_api_helpers import person

    app = create_app(make_settings(network=NetworkSettings(allow_private=["127.0.0.0/8"]), limits=LimitSettings(api_requests_per_minute=3)))
    async with LifespanManager(app):
        who = await person(app, "carol")
        token, other = await new_token(who), await new_token(who, "other")
        async with make_client(app) as client:
            for _ in range(3):
                assert (await client.get("/v1/models", headers=bearer(token))).status_code == 200
            limited = await client.get("/v1/models", headers=bearer(token))
            assert_openai_error(limited, 429, "rate_limit_exceeded")
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            assert (await client.get("/v1/models", headers=bearer(other))).status_code == 200  # per token
        await who.client.aclose()


async def _csrf(who) -> dict[str, str]:  # type: ignore[no-untyped-def]
    from tests.helpers import csrf_headers

    return await csrf_headers(who.client)


async def test_only_a_fingerprint_of_the_token_is_stored_and_it_is_shown_once(app, alice) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    from sqlalchemy import select

    created = await post(alice.client, "/api/access-tokens", {"name": "laptop", "scopes": ["chat"]})
    token = created.json()["token"]
    assert token.startswith("rc_pat_") and len(token) == 7 + 43
    async with app.state.res.db() as s:
        row = (await s.scalars(select(AccessToken))).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and row.hint == token[-4:]
    assert token not in repr(row.__dict__)
    listed = (await alice.client.get("/api/access-tokens")).json()
    assert listed[0]["hint"] == token[-4:] and "token" not in listed[0] and listed[0]["expires_at"] is None
    refused = await post(alice.client, "/api/access-tokens", {"name": "x", "scopes": ["admin"]})
    assert refused.status_code == 400 and refused.json()["field"] == "scopes"


async def test_revocation_and_rate_limits_reach_every_replica_through_redis(make_settings) -> None:  # type: ignore[no-untyped-def]
    import secrets

    from asgi_lifespan import LifespanManager

    from rolecall.app import create_app
    from rolecall.config import LimitSettings
    from tests.conftest import REDIS_URL
    from tests.web.openai_api_helpers import person

    settings = make_settings(redis_url=REDIS_URL, redis_prefix=f"test-{secrets.token_hex(4)}", embedded_worker=True,
                             limits=LimitSettings(api_requests_per_minute=4))
    first, second = create_app(settings), create_app(settings)
    async with LifespanManager(first), LifespanManager(second):
        who = await person(first, "dora")
        token = await new_token(who)
        async with make_client(first) as a, make_client(second) as b:
            assert (await a.get("/v1/models", headers=bearer(token))).status_code == 200
            assert (await b.get("/v1/models", headers=bearer(token))).status_code == 200  # b has it cached now
            token_id = (await who.client.get("/api/access-tokens")).json()[0]["id"]
            assert (await who.client.delete(f"/api/access-tokens/{token_id}", headers=await _csrf(who))).status_code == 204
            assert_openai_error(await b.get("/v1/models", headers=bearer(token)), 401, "invalid_api_key")
            other = await new_token(who, "other")
            for client in (a, b, a, b):
                assert (await client.get("/v1/models", headers=bearer(other))).status_code == 200
            assert_openai_error(await b.get("/v1/models", headers=bearer(other)), 429, "rate_limit_exceeded")
        await who.client.aclose()
