"""Where a config may send its key: the network policy applied when a Custom Base URL is saved.

The guard in `net` refuses private addresses and plain http:// at every connect; this applies
the same policy (`net.check_base_url`) when the URL is typed, so Save (and the Add Provider form,
through the resolve endpoint) refuses what Test would refuse, with the same advice.
"""

from __future__ import annotations

from rolecall.config import NetworkSettings
from rolecall.net import BlockedAddress, NetworkPolicy, PlainHttpError, check_base_url
from rolecall.providers import Target
from rolecall.services.errors import Invalid


def network_policy(network: NetworkSettings) -> NetworkPolicy:
    """The operator's allow-list, as the outbound client applies it."""
    return NetworkPolicy(allow_private=tuple(network.allow_private), allow_hosts=tuple(network.allow_hosts))


async def check_target(network: NetworkSettings, target: Target) -> None:
    """Refuse a Custom Base URL the guard would refuse (registry endpoints are public https)."""
    if not target.custom_base:
        return
    try:
        await check_base_url(network_policy(network), target.base_url)
    except (BlockedAddress, PlainHttpError) as exc:
        raise Invalid(str(exc), field="base_url") from None
