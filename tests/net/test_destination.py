"""Plain http:// and the save-time destination check (issue 10, items 8 and 9).

Keys travel in headers: plain http:// is allowed only to destinations the operator allow-listed,
both at connect time (the guard) and when a base URL is saved (`check_base_url`, same policy).
"""

from __future__ import annotations

import pytest

from rolecall.net import BlockedAddress, NetworkPolicy, PlainHttpError, check_base_url, make_client

LOOPBACK = NetworkPolicy(allow_private=("127.0.0.0/8",))


async def test_plain_http_to_a_public_address_never_connects(recorder) -> None:
    async with make_client(NetworkPolicy(), socket_factory=recorder) as client:
        with pytest.raises(PlainHttpError) as info:
            await client.get("http://8.8.8.8/v1/models", headers={"authorization": "Bearer sk-secret"})
    assert recorder.calls == []
    assert "https://" in str(info.value) and "network.allow_private" in str(info.value)


async def test_plain_http_to_a_name_answering_public_never_connects(recorder, fake_dns) -> None:
    dns = fake_dns({"llm.example.com": ["93.184.216.34"]})
    async with make_client(NetworkPolicy(), resolver=dns, socket_factory=recorder) as client:
        with pytest.raises(PlainHttpError):
            await client.get("http://llm.example.com/v1/models")
    assert recorder.calls == []


async def test_plain_http_to_an_allow_listed_destination_works(server) -> None:
    async with make_client(LOOPBACK) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/hello")
    assert response.status_code == 200


async def test_plain_http_to_an_allow_listed_host_name_works(server, recorder, fake_dns) -> None:
    dns = fake_dns({"ollama.lan": ["127.0.0.1"]})
    async with make_client(NetworkPolicy(allow_hosts=("ollama.lan",)), resolver=dns, socket_factory=recorder) as client:
        response = await client.get(f"http://ollama.lan:{server.port}/hello")
    assert response.status_code == 200


@pytest.mark.parametrize("url", ["http://localhost:11434", "http://127.0.0.1:11434/v1", "https://10.1.2.3/v1",
                                 "http://[::1]:8080", "https://192.168.1.20"])
async def test_save_check_refuses_private_destinations(url: str) -> None:
    with pytest.raises(BlockedAddress) as info:
        await check_base_url(NetworkPolicy(), url)
    assert "Cloudflare Tunnel" in str(info.value)


async def test_save_check_judges_literal_ips_without_dns(fake_dns) -> None:
    dns = fake_dns({})
    await check_base_url(NetworkPolicy(), "https://8.8.8.8/v1", resolver=dns)
    with pytest.raises(PlainHttpError):
        await check_base_url(NetworkPolicy(), "http://8.8.8.8/v1", resolver=dns)
    assert dns.calls == []


async def test_save_check_resolves_names_like_the_guard(fake_dns) -> None:
    dns = fake_dns({"sneaky.example.com": ["93.184.216.34", "127.0.0.1"], "api.example.com": ["93.184.216.34"]})
    with pytest.raises(BlockedAddress):  # one refused answer refuses all, as at connect
        await check_base_url(NetworkPolicy(), "https://sneaky.example.com/v1", resolver=dns)
    await check_base_url(NetworkPolicy(), "https://api.example.com/v1", resolver=dns)
    with pytest.raises(PlainHttpError):
        await check_base_url(NetworkPolicy(), "http://api.example.com/v1", resolver=dns)


async def test_save_check_follows_the_allow_list(fake_dns) -> None:
    dns = fake_dns({"ollama.lan": ["192.168.1.20"]})
    await check_base_url(LOOPBACK, "http://localhost:11434", resolver=fake_dns({"localhost": ["127.0.0.1"]}))
    await check_base_url(NetworkPolicy(allow_hosts=("ollama.lan",)), "http://ollama.lan:11434", resolver=dns)
    await check_base_url(NetworkPolicy(allow_private=("192.168.1.0/24",)), "http://ollama.lan:11434", resolver=dns)


async def test_a_name_that_does_not_resolve_is_left_to_the_guard(fake_dns) -> None:
    dns = fake_dns({})
    await check_base_url(NetworkPolicy(), "https://not-yet.example.com/v1", resolver=dns)
    with pytest.raises(PlainHttpError):  # unknown is not allow-listed
        await check_base_url(NetworkPolicy(), "http://not-yet.example.com/v1", resolver=dns)
