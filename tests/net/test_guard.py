"""SSRF matrix with the DEFAULT policy (nothing allowed), plus DNS answers and rebinding.

Every refused request must raise BlockedAddress before any connect: the
recording connector under the guard sees no call, and decoy servers on
127.0.0.1 / ::1 accept zero connections (docs/security.md, "Outbound requests and SSRF").
"""

from __future__ import annotations

import httpx
import pytest

from rolecall.net import BlockedAddress, NetworkPolicy, make_client
from rolecall.net.guard import GuardResolver

# (URL with {port}, which decoy the address would reach: "v4", "v6" or None)
MATRIX = [
    ("http://127.0.0.1:{port}/", "v4"),
    ("http://localhost:{port}/", "v4"),  # real resolver, /etc/hosts
    ("http://LOCALHOST:{port}/", "v4"),
    ("http://[::1]:{port}/", "v6"),
    ("http://[::ffff:127.0.0.1]:{port}/", "v4"),
    ("http://[::ffff:7f00:1]:{port}/", "v4"),
    ("http://[::127.0.0.1]:{port}/", "v4"),
    ("http://2130706433:{port}/", "v4"),
    ("http://0x7f000001:{port}/", "v4"),
    ("http://017700000001:{port}/", "v4"),
    ("http://127.1:{port}/", "v4"),
    ("http://0x7f.1:{port}/", "v4"),
    ("http://0.0.0.0:{port}/", "v4"),  # reaches local services on Linux
    ("http://0:{port}/", "v4"),
    ("http://[::]:{port}/", "v6"),
    ("https://127.0.0.1:{port}/", "v4"),
    ("http://169.254.169.254/latest/meta-data/", None),
    ("http://[fd00:ec2::254]/", None),
    ("http://100.100.100.200/", None),
    ("http://10.0.0.1:{port}/", None),
    ("http://10.255.255.1/", None),
    ("http://172.16.0.1/", None),
    ("http://192.168.0.1/", None),
    ("http://192.168.1.1/", None),
    ("http://100.64.0.1/", None),
    ("http://[fe80::1]/", None),
    ("http://[fc00::1]/", None),
    ("http://[fd00::1]/", None),
    ("http://[64:ff9b::7f00:1]:{port}/", None),
    ("http://[64:ff9b::a9fe:a9fe]/", None),
    ("http://[2002:7f00:1::]:{port}/", None),
]


async def _refused(client: httpx.AsyncClient, url: str) -> BlockedAddress:
    with pytest.raises(BlockedAddress) as info:
        await client.get(url, headers={"Authorization": "Bearer sk-canary-ssrf"})
    assert "sk-canary" not in str(info.value)
    return info.value


@pytest.mark.parametrize(("template", "target"), MATRIX)
async def test_default_policy_refuses_before_connecting(template, target, decoy, decoy6, recorder) -> None:
    port = decoy6.port if (target == "v6" and decoy6 is not None) else decoy.port
    async with make_client(NetworkPolicy(), socket_factory=recorder) as client:
        await _refused(client, template.format(port=port))
    assert recorder.calls == []  # refused before the inner connector was asked
    assert decoy.connections() == []
    if decoy6 is not None:
        assert decoy6.connections() == []


@pytest.mark.parametrize("template", [
    "http://127.0.0.1:{port}/", "http://localhost:{port}/", "http://2130706433:{port}/",
    "http://0.0.0.0:{port}/", "http://[::ffff:127.0.0.1]:{port}/",
])
async def test_production_backend_never_touches_the_decoy(template, decoy) -> None:
    async with make_client(NetworkPolicy()) as client:
        await _refused(client, template.format(port=decoy.port))
    assert decoy.connections() == []


async def test_production_backend_never_touches_the_ipv6_decoy(decoy6) -> None:
    if decoy6 is None:
        pytest.skip("no IPv6 loopback here")
    async with make_client(NetworkPolicy()) as client:
        await _refused(client, f"http://[::1]:{decoy6.port}/")
        await _refused(client, f"http://[::]:{decoy6.port}/")
    assert decoy6.connections() == []


async def test_dotted_octal_is_refused_by_the_url_parser_and_by_the_guard(decoy, recorder) -> None:
    # httpx itself rejects a dotted quad with leading zeros, before any lookup.
    async with make_client(NetworkPolicy(), socket_factory=recorder) as client:
        with pytest.raises(httpx.InvalidURL):
            await client.get(f"http://0177.0.0.1:{decoy.port}/")
    # Should that ever change, the guard still reads it as 127.0.0.1.
    guard = GuardResolver(NetworkPolicy())
    for host in ("0177.0.0.1", "0x7f.1", "2130706433", "127.1", "::ffff:127.0.0.1"):
        with pytest.raises(BlockedAddress):
            await guard.resolve(host, decoy.port)
    assert recorder.calls == []
    assert decoy.connections() == []


async def test_name_resolving_to_loopback_is_refused(decoy, recorder, fake_dns) -> None:
    dns = fake_dns({"evil.rolecall.test": ["127.0.0.1"]})
    async with make_client(NetworkPolicy(), resolver=dns, socket_factory=recorder) as client:
        error = await _refused(client, f"http://evil.rolecall.test:{decoy.port}/")
    assert (error.host, error.ip, error.kind) == ("evil.rolecall.test", "127.0.0.1", "loopback")
    assert dns.calls == ["evil.rolecall.test"]
    assert recorder.calls == []
    assert decoy.connections() == []


async def test_mixed_answers_are_refused_outright(decoy, recorder, fake_dns) -> None:
    dns = fake_dns({"mixed.rolecall.test": ["93.184.216.34", "127.0.0.1"]})
    async with make_client(NetworkPolicy(), resolver=dns, socket_factory=recorder) as client:
        await _refused(client, f"http://mixed.rolecall.test:{decoy.port}/")
    assert dns.calls == ["mixed.rolecall.test"]
    assert recorder.calls == []
    assert decoy.connections() == []


async def test_dns_rebinding_cannot_reach_the_decoy(decoy, recorder, fake_dns) -> None:
    # Public answer on the first lookup, loopback on every later one.
    # https: plain http:// to a public answer is refused before any connect (test_destination.py).
    dns = fake_dns({"rebind.rolecall.test": [["93.184.216.34"], ["127.0.0.1"]]})
    url = f"https://rebind.rolecall.test:{decoy.port}/"
    async with make_client(NetworkPolicy(), resolver=dns, socket_factory=recorder) as client:
        # Checked once, then the connect goes to the checked IP, not the name
        # (the test connector refuses non-loopback targets, so nothing leaves).
        with pytest.raises(httpx.ConnectError):
            await client.get(url)
        assert dns.calls == ["rebind.rolecall.test"]
        assert recorder.calls == [("93.184.216.34", decoy.port)]
        # The next connection resolves again and meets the loopback answer.
        await _refused(client, url)
    assert dns.calls == ["rebind.rolecall.test"] * 2
    assert recorder.calls == [("93.184.216.34", decoy.port)]
    assert decoy.connections() == []


async def test_blocked_private_port_and_closed_port_read_the_same(decoy) -> None:
    """No topology oracle: listening and closed loopback ports give one message."""
    async with make_client(NetworkPolicy()) as client:
        listening = await _refused(client, f"http://127.0.0.1:{decoy.port}/")
        closed = await _refused(client, "http://127.0.0.1:1/")
    assert str(listening) == str(closed)
    assert decoy.connections() == []


async def test_unresolvable_name_is_a_connect_error(recorder, fake_dns) -> None:
    dns = fake_dns({"empty.rolecall.test": []})
    async with make_client(NetworkPolicy(), resolver=dns, socket_factory=recorder) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://nowhere.rolecall.test/")
        with pytest.raises(httpx.ConnectError):
            await client.get("http://empty.rolecall.test/")
    assert recorder.calls == []
