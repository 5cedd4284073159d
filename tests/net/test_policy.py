"""NetworkPolicy.check_ip over address tables: policy logic only, nothing is connected to."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from rolecall.net import BlockedAddress, NetError, NetworkPolicy
from rolecall.net.errors import LOCAL_MODEL_ADVICE
from rolecall.net.guard import parse_inet_aton, parse_ip_literal

DEFAULT = NetworkPolicy()

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "104.18.6.192",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81c::200e",
    "::ffff:8.8.8.8",  # IPv4-mapped public: the socket goes to 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of a public address (DNS64 networks)
]

BLOCKED = [
    # (address, kind named in the message)
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("fc00::1", "private"),
    ("fd00::1", "private"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("192.0.0.192", "cloud metadata"),
    ("192.0.0.9", "reserved"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("2001:db8::1", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("fec0::1", "site-local (deprecated)"),
    # IPv6 forms that embed a non-public IPv4 are judged by what they embed.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:10.1.2.3", "private"),
    ("::127.0.0.1", "loopback"),  # IPv4-compatible
    ("::8.8.8.8", "IPv4-compatible (deprecated)"),
    ("64:ff9b::7f00:1", "loopback"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2002:7f00:1::", "loopback"),  # 6to4
    ("2002:0a00:0001::1", "private"),
    ("2002:0808:0808::1", "6to4"),  # 6to4 is deprecated even for public IPv4
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1 (obfuscated)
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", "Teredo"),  # Teredo, public client 8.8.8.8
    ("100::1", "discard-only"),
]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    DEFAULT.check_ip(address)
    DEFAULT.check_ip(ipaddress.ip_address(address))


@pytest.mark.parametrize(("address", "kind"), BLOCKED)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    with pytest.raises(BlockedAddress) as info:
        DEFAULT.check_ip(address, host="example.test")
    assert info.value.kind == kind
    assert "example.test" in str(info.value)


@pytest.mark.parametrize(("notation", "address"), [
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("169.254.43518", "169.254.169.254"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("10.1", "10.0.0.1"),
])
def test_odd_ipv4_notations_are_the_address_they_denote(notation: str, address: str) -> None:
    assert parse_ip_literal(notation) == ipaddress.ip_address(address)
    with pytest.raises(BlockedAddress):
        DEFAULT.check_ip(notation)


@pytest.mark.parametrize("text", [
    "2130706433", "0x7f000001", "017700000001", "127.1", "0x7f.1", "0177.0.0.1", "0", "256",
    "4294967295", "4294967296", "0xffffffff", "1.0xffffff", "1.2.0xffff", "1.2.3.0x100",
    "00000177.1", "0x00007f.1", "0x", "0x.1", "08", "1.2.3.4.5", "1.256.0.0", ".1", "1..2",
    "-1", "+1", "1e2", "example.com", "1.2.3.4", "09.1.1.1", "0x1g",
])
def test_parse_inet_aton_agrees_with_the_os(text: str) -> None:
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        expected = None
    assert parse_inet_aton(text) == expected


def test_names_are_not_literals() -> None:
    assert parse_ip_literal("localhost") is None
    assert parse_ip_literal("api.openai.com") is None
    assert parse_ip_literal("[::1]") == ipaddress.ip_address("::1")


def test_allow_private_opens_only_the_listed_ranges() -> None:
    policy = NetworkPolicy(allow_private=("127.0.0.0/8", "192.168.1.0/24", "::1/128"))
    for allowed in ("127.0.0.1", "127.9.9.9", "192.168.1.20", "::1", "::ffff:127.0.0.1"):
        policy.check_ip(allowed)
    for refused in ("192.168.2.1", "10.0.0.1", "169.254.169.254", "fe80::1"):
        with pytest.raises(BlockedAddress):
            policy.check_ip(refused)


def test_metadata_stays_refused_inside_an_allowed_range_unless_listed_exactly() -> None:
    wide = NetworkPolicy(allow_private=("169.254.0.0/16", "fd00::/8", "0.0.0.0/0"))
    wide.check_ip("169.254.1.1")
    for metadata in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"):
        with pytest.raises(BlockedAddress) as info:
            wide.check_ip(metadata)
        assert info.value.kind == "cloud metadata"
    NetworkPolicy(allow_private=("169.254.169.254/32",)).check_ip("169.254.169.254")


def test_trusted_host_skips_the_private_refusal_but_not_metadata() -> None:
    policy = NetworkPolicy(allow_hosts=("Ollama.LAN", "gpu.lan:11434"))
    assert policy.trusts_host("ollama.lan", 80)
    assert policy.trusts_host("ollama.lan.", 11434)
    assert policy.trusts_host("gpu.lan", 11434)
    assert not policy.trusts_host("gpu.lan", 8080)  # a listed port allows only that port
    assert not policy.trusts_host("other.lan", 80)
    policy.check_destination("ollama.lan", 80, [ipaddress.ip_address("192.168.1.5")])
    with pytest.raises(BlockedAddress):
        policy.check_destination("gpu.lan", 8080, [ipaddress.ip_address("192.168.1.5")])
    with pytest.raises(BlockedAddress):
        policy.check_destination("ollama.lan", 80, [ipaddress.ip_address("169.254.169.254")])


def test_one_refused_answer_refuses_the_destination() -> None:
    answers = [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("::1")]
    with pytest.raises(BlockedAddress) as info:
        DEFAULT.check_destination("mixed.example", 443, answers)
    assert info.value.ip == "::1"


def test_policy_accepts_lists_stays_hashable_and_rejects_bad_ranges() -> None:
    policy = NetworkPolicy(allow_private=["127.0.0.1/32"], allow_hosts=["a.lan"])  # type: ignore[arg-type]
    assert policy.allow_private == ("127.0.0.1/32",)
    assert hash(policy) == hash(NetworkPolicy(allow_private=("127.0.0.1/32",), allow_hosts=("a.lan",)))
    with pytest.raises(ValueError):
        NetworkPolicy(allow_private=("not-a-range",))


def test_loopback_message_gives_the_local_model_advice() -> None:
    with pytest.raises(BlockedAddress) as info:
        DEFAULT.check_ip("127.0.0.1", host="localhost")
    message = str(info.value)
    assert message.startswith("Destination not allowed: localhost (127.0.0.1) is a loopback address")
    assert LOCAL_MODEL_ADVICE in message
    for words in ("Cloudflare Tunnel", "ngrok", "Tailscale Funnel", "reverse proxy", "network.allow_private"):
        assert words in message
    assert isinstance(info.value, NetError)


def test_private_message_gives_the_advice_and_metadata_does_not() -> None:
    with pytest.raises(BlockedAddress) as private:
        DEFAULT.check_ip("192.168.1.10")
    assert LOCAL_MODEL_ADVICE in str(private.value)
    with pytest.raises(BlockedAddress) as metadata:
        DEFAULT.check_ip("169.254.169.254")
    assert LOCAL_MODEL_ADVICE not in str(metadata.value)
    assert "metadata" in str(metadata.value)
