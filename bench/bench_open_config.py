"""Per-open cost of a saved config: `connections.open_row` against the path it replaced.

Run: `python bench/bench_open_config.py [rounds]`   (prints figures; not a pass/fail test)

The baseline is the old path, re-created here: the stored row turned back into form input
(`_stored_input`, body re-encoded with json.dumps), validated again (`resolve`), then validated a
third time by `providers.connect()`. The new path parses the stored options strictly and
assembles the connection from them (`trusted_connection`). Both are measured two ways:

* assembly: building the connection from an already-loaded row and an already-opened key;
* full open: the same plus opening the Server-Accessible credential with the key ring, which
  both paths pay alike (the decryption alone is printed too, as the floor).

Cases run interleaved, each round timing every case over a batch of calls; medians over the
rounds are printed with the ratio new / old. Nothing touches the network or the database.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from rolecall.crypto import KeyRing, Secret, generate_key_file_text
from rolecall.providers import Connection, connect, get, trusted_connection
from rolecall.services import vault
from rolecall.services.config_input import ConfigInput, resolve
from rolecall.services.connections import ServerKey, open_row
from rolecall.services.stored_config import ConfigOptions
from rolecall.storage.tables import ProviderConfig

KEY = "sk-bench-0123456789abcdefghijklmnopqrstuv"
BATCH = 500


def saved_row(ring: KeyRing, base_url: str | None) -> ProviderConfig:
    """A Server-Accessible config as the save path stores it (validated once, sealed)."""
    resolved = resolve(ConfigInput("openai", base_url=base_url, values={"organization": "org-bench"},
                                   body='{"temperature": 0.7, "top_p": 0.9}', model="gpt-4o-mini"))
    target = resolved.target
    options = ConfigOptions(target.custom_base, target.endpoint_type, dict(target.values), ("x-proxy-secret",),
                            resolved.body, resolved.model)
    row = ProviderConfig(id=str(uuid.uuid4()), account_id="a" * 24, provider_id="openai", label="bench",
                         privacy_mode="srv", base_url=target.base_url, dest_origin=target.origin,
                         options=options.to_stored())
    vault.seal_server_credential(ring, {"api_key": KEY, "headers": {"x-proxy-secret": "hunter2hunter2"}}, row)
    return row


# --- the old path, as it was before services.connections ---------------------------------------

def _stored_input(row: ProviderConfig) -> ConfigInput:
    options = row.options or {}
    return ConfigInput(
        row.provider_id, base_url=row.base_url if options.get("custom_base") else None,
        endpoint_type=options.get("endpoint_type"), values=options.get("values", {}),
        body=json.dumps(options["body"]) if options.get("body") else "", model=options.get("model"),
    )


def old_assembly(row: ProviderConfig, api_key: str, headers: dict[str, str]) -> Connection:
    resolved = resolve(_stored_input(row))
    target = resolved.target
    return connect(
        resolved.provider, api_key=Secret(api_key), base_url=target.base_url if target.custom_base else None,
        endpoint_type=target.endpoint_type, values=target.values, headers=headers, body=resolved.body,
        model=resolved.model,
    )


def old_open(ring: KeyRing, row: ProviderConfig) -> Connection:
    bundle = vault.open_server_credential(ring, row)
    return old_assembly(row, bundle["api_key"], bundle["headers"])


# --- the new path -------------------------------------------------------------------------------

def new_assembly(row: ProviderConfig, api_key: str, headers: dict[str, str]) -> Connection:
    # open_row minus the key ring: the same parse and assembly, for a like-for-like figure.
    options = ConfigOptions.from_stored(row.options)
    return trusted_connection(
        get(row.provider_id), base_url=row.base_url, custom_base=options.custom_base,
        endpoint_type=options.endpoint_type, values=options.values, headers=headers, body=options.body,
        model=options.model, api_key=Secret(api_key),
    )


def new_open(ring: KeyRing, row: ProviderConfig) -> Connection:
    return open_row(ring, row, ServerKey()).connection


def per_call_us(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    for _ in range(BATCH):
        fn()
    return (time.perf_counter() - start) / BATCH * 1e6


def main(rounds: int) -> None:
    ring = KeyRing.parse(generate_key_file_text("bench"))
    headers = {"x-proxy-secret": "hunter2hunter2"}
    rows = {"registry URL": saved_row(ring, None), "custom base URL": saved_row(ring, "https://llm.example.com/v1")}
    for row in rows.values():  # both paths must build the same connection
        assert repr(old_open(ring, row)) == repr(new_open(ring, row))
    cases: dict[str, Callable[[], Any]] = {}
    for name, row in rows.items():
        cases[f"{name}: old assembly"] = lambda row=row: old_assembly(row, KEY, headers)
        cases[f"{name}: new assembly"] = lambda row=row: new_assembly(row, KEY, headers)
        cases[f"{name}: old full open"] = lambda row=row: old_open(ring, row)
        cases[f"{name}: new full open"] = lambda row=row: new_open(ring, row)
        cases[f"{name}: decrypt only"] = lambda row=row: vault.open_server_credential(ring, row)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        per_call_us(fn)  # warm-up
    for r in range(rounds):
        order = list(cases.items())
        if r % 2:
            order.reverse()  # interleave: no case always runs first or last
        for name, fn in order:
            samples[name].append(per_call_us(fn))
    print(f"{rounds} rounds x {BATCH} calls per case; medians in µs per open\n")
    med = {name: statistics.median(values) for name, values in samples.items()}
    for name in cases:
        print(f"{name:34s} {med[name]:8.1f} µs")
    print()
    for target in rows:
        for kind in ("assembly", "full open"):
            old, new = med[f"{target}: old {kind}"], med[f"{target}: new {kind}"]
            print(f"{target:16s} {kind:10s} new/old = {new / old:.2f}  ({old:.1f} -> {new:.1f} µs)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
