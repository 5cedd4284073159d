"""make_client with loopback allowed: real requests to real local servers.

Covers: plain requests and streaming, pinning to the checked IP, redirects
not followed, size caps (wire and decoded, read and stream), environment
proxies ignored, allow_hosts, and TLS verified against the host name while
connecting to the pinned IP.
"""

from __future__ import annotations

import httpx
import pytest

from rolecall.net import BlockedAddress, NetworkPolicy, ResponseTooLarge, make_client

LOOPBACK = NetworkPolicy(allow_private=("127.0.0.0/8",))
MiB = 1024 * 1024


async def test_request_to_an_allowed_local_server_works(server) -> None:
    async with make_client(LOOPBACK) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/hello")
    assert (response.status_code, response.text) == (200, "hello")
    assert len(server.connections()) == 1


async def test_streaming_yields_events_as_they_come(server) -> None:
    async with make_client(LOOPBACK) as client:
        async with client.stream("GET", f"http://127.0.0.1:{server.port}/stream") as response:
            lines = [line async for line in response.aiter_lines() if line]
    assert lines == [f"data: {i}" for i in range(5)]


async def test_connects_to_the_checked_ip_not_the_name(server, recorder, fake_dns) -> None:
    dns = fake_dns({"api.rolecall.test": ["127.0.0.1"]})
    async with make_client(LOOPBACK, resolver=dns, socket_factory=recorder) as client:
        response = await client.get(f"http://api.rolecall.test:{server.port}/hello")
    assert response.status_code == 200
    assert recorder.calls == [("127.0.0.1", server.port)]
    assert server.requests[-1][1]["Host"] == f"api.rolecall.test:{server.port}"


async def test_falls_back_to_the_next_checked_answer(server, recorder, fake_dns) -> None:
    # Nothing listens on 127.0.0.2:port; the second (also checked) answer works.
    dns = fake_dns({"two.rolecall.test": ["127.0.0.2", "127.0.0.1"]})
    async with make_client(LOOPBACK, resolver=dns, socket_factory=recorder) as client:
        response = await client.get(f"http://two.rolecall.test:{server.port}/hello")
    assert response.status_code == 200
    assert recorder.calls == [("127.0.0.2", server.port), ("127.0.0.1", server.port)]
    assert dns.calls == ["two.rolecall.test"]


async def test_redirects_are_not_followed(server) -> None:
    async with make_client(LOOPBACK) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/redirect")
    assert response.status_code == 302
    assert response.headers["Location"] == "http://169.254.169.254/latest/meta-data/"
    assert response.next_request is not None  # httpx saw it and did not go


async def test_a_caller_that_opts_into_redirects_still_meets_the_guard(server, recorder) -> None:
    async with make_client(LOOPBACK, socket_factory=recorder) as client:
        with pytest.raises(BlockedAddress) as info:
            await client.get(f"http://127.0.0.1:{server.port}/redirect", follow_redirects=True)
    assert info.value.kind == "cloud metadata"
    assert recorder.calls == [("127.0.0.1", server.port)]  # only the first hop connected


async def test_size_cap_on_read(server) -> None:
    async with make_client(LOOPBACK, max_response_bytes=MiB) as client:
        with pytest.raises(ResponseTooLarge) as info:
            await client.get(f"http://127.0.0.1:{server.port}/big")
    assert info.value.limit == MiB
    assert "127.0.0.1" in str(info.value)


@pytest.mark.parametrize("reader", ["aiter_bytes", "aiter_raw", "aiter_text", "aread"])
async def test_size_cap_mid_stream(server, reader) -> None:
    received = 0
    async with make_client(LOOPBACK, max_response_bytes=MiB) as client:
        async with client.stream("GET", f"http://127.0.0.1:{server.port}/big") as response:
            assert response.status_code == 200
            with pytest.raises(ResponseTooLarge):
                if reader == "aread":
                    await response.aread()
                else:
                    async for chunk in getattr(response, reader)():
                        received += len(chunk)
    assert received <= MiB


async def test_size_cap_counts_decoded_bytes(server) -> None:
    # ~8 KiB of gzip on the wire that decodes to 8 MiB.
    async with make_client(LOOPBACK, max_response_bytes=MiB) as client:
        with pytest.raises(ResponseTooLarge):
            await client.get(f"http://127.0.0.1:{server.port}/gzip-bomb")
        async with client.stream("GET", f"http://127.0.0.1:{server.port}/gzip-bomb") as response:
            raw = b"".join([chunk async for chunk in response.aiter_raw()])
    assert len(raw) < MiB  # the wire size alone would have passed


async def test_environment_proxies_are_ignored(server, decoy, monkeypatch) -> None:
    proxy = f"http://127.0.0.1:{decoy.port}"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    async with make_client(LOOPBACK) as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/hello")
    assert response.status_code == 200
    assert decoy.connections() == []
    assert len(server.connections()) == 1


async def test_allow_hosts_trusts_a_name_and_still_pins(server, recorder, fake_dns) -> None:
    dns = fake_dns({"ollama.lan": ["127.0.0.1"], "other.lan": ["127.0.0.1"]})
    policy = NetworkPolicy(allow_hosts=("ollama.lan",))
    async with make_client(policy, resolver=dns, socket_factory=recorder) as client:
        response = await client.get(f"http://ollama.lan:{server.port}/hello")
        assert response.status_code == 200
        with pytest.raises(BlockedAddress):
            await client.get(f"http://other.lan:{server.port}/hello")
        with pytest.raises(BlockedAddress):  # a trusted name does not make its IP trusted
            await client.get(f"http://127.0.0.1:{server.port}/hello")
    assert recorder.calls == [("127.0.0.1", server.port)]


async def test_allow_hosts_entry_with_a_port_allows_only_that_port(server, recorder, fake_dns) -> None:
    dns = fake_dns({"ollama.lan": ["127.0.0.1"]})
    policy = NetworkPolicy(allow_hosts=(f"ollama.lan:{server.port + 1}",))
    async with make_client(policy, resolver=dns, socket_factory=recorder) as client:
        with pytest.raises(BlockedAddress):
            await client.get(f"http://ollama.lan:{server.port}/hello")
    assert recorder.calls == []


async def test_tls_verifies_the_host_name_on_the_pinned_ip(tls_server, client_tls, recorder, fake_dns) -> None:
    srv = tls_server("api.rolecall.test")
    dns = fake_dns({"api.rolecall.test": ["127.0.0.1"]})
    async with make_client(LOOPBACK, verify=client_tls, resolver=dns, socket_factory=recorder) as client:
        response = await client.get(f"https://api.rolecall.test:{srv.port}/hello")
    assert (response.status_code, response.text) == (200, "hello")
    assert recorder.calls == [("127.0.0.1", srv.port)]  # connected to the IP...
    assert srv.sni_names == ["api.rolecall.test"]  # ...and spoke TLS to the name


async def test_tls_fails_when_the_certificate_is_for_another_name(tls_server, client_tls, fake_dns) -> None:
    srv = tls_server("other.example")
    dns = fake_dns({"api.rolecall.test": ["127.0.0.1"]})
    async with make_client(LOOPBACK, verify=client_tls, resolver=dns) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://api.rolecall.test:{srv.port}/hello")


async def test_tls_to_the_literal_ip_does_not_borrow_the_name(tls_server, client_tls) -> None:
    srv = tls_server("api.rolecall.test")
    async with make_client(LOOPBACK, verify=client_tls) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get(f"https://127.0.0.1:{srv.port}/hello")


async def test_tls_with_the_real_resolver_for_localhost(tls_server, client_tls) -> None:
    srv = tls_server("localhost")
    policy = NetworkPolicy(allow_private=("127.0.0.0/8", "::1/128"))
    async with make_client(policy, verify=client_tls) as client:
        response = await client.get(f"https://localhost:{srv.port}/hello")
    assert response.status_code == 200


async def test_transport_errors_surface_as_httpx_errors(server) -> None:
    async with make_client(LOOPBACK, read_timeout=0.1) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.get(f"http://127.0.0.1:{server.port}/slow")
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(f"http://127.0.0.1:{server.port}/truncated")
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/")  # allowed, but nothing listens


def test_verification_cannot_be_turned_off() -> None:
    with pytest.raises(ValueError):
        make_client(LOOPBACK, verify=False)


async def test_client_settings() -> None:
    async with make_client(LOOPBACK, connect_timeout=3.0, read_timeout=60.0) as client:
        assert client.follow_redirects is False
        assert client.trust_env is False
        assert client.timeout.connect == 3.0
        assert client.timeout.read == 60.0


async def test_a_cookie_a_provider_sets_is_never_sent_again(server) -> None:
    # One client serves every account: a stored cookie would ride on the next person's request.
    async with make_client(LOOPBACK) as client:
        await client.get(f"http://127.0.0.1:{server.port}/set-cookie")
        await client.get(f"http://127.0.0.1:{server.port}/hello")
    assert not client.cookies
    assert "Cookie" not in server.requests[-1][1]
