"""What `bench_relay.py` prints: the table of every case, each path against the direct clients, the
database work, and the targets of the scene relay (issue 11) and of /v1 (issue 14)."""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass

from relay_parts import CHUNKS, LONG, PACE

# Every served case is driven by aiohttp, so its TTFT is read against the fake read by aiohttp (the
# same client's cost cancels); direct-httpx shows what a plain httpx client manages on its own.
REF = "direct-aiohttp"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


@dataclass
class Report:
    label: str
    rounds: int
    results: dict[tuple[str, int], dict[str, list[float]]]
    marginal: dict[str, tuple[float, float]]  # served case -> (user, system) s per chunk
    paced: dict[str, tuple[float, float]]  # the same, each chunk arriving on its own (`PACE` apart)
    memory: dict[str, tuple[float, float]]  # served case -> (idle MiB, KiB per open stream)
    writes: dict[str, float]  # a scene turn's database work, ms
    api_work: dict[str, float]  # the /v1 path's database work, ms
    rss: tuple[float, float]  # RoleCall's RSS MiB after start, at the end

    def p50(self, case: str, c: int) -> float:
        return pct(self.results[(case, c)]["ttfts"], 0.5) * 1000

    def sps(self, case: str, c: int) -> float:
        return statistics.median(self.results[(case, c)]["sps"])

    def print(self, litellm_present: bool) -> None:
        print(f"\n== {self.label}: {self.rounds} rounds, {CHUNKS}-chunk streams ==")
        print("CPU/chunk: relay, api, floor, litellm = the serving process (everything a turn costs / its chunks); direct = this")
        print("process, i.e. the client library alone reading the same chunks. user+system, in microseconds.")
        if not litellm_present:
            print("litellm: not present (`import litellm.proxy.proxy_cli` fails here; see --litellm-python)")
        print(f"{'case':16} {'c':>3} {'streams/s':>10} {'chunks/s':>10} {'TTFT p50':>10} {'TTFT p99':>10} {'CPU/chunk user+sys':>20}")
        for (case, c), slot in sorted(self.results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            sps = statistics.median(slot["sps"])
            cpu = f"{statistics.median(slot['user']) * 1e6:.1f}+{statistics.median(slot['sys']) * 1e6:.1f} us"
            print(f"{case:16} {c:>3} {sps:>10.1f} {sps * CHUNKS:>10.0f} {pct(slot['ttfts'], 0.5) * 1000:>8.2f}ms "
                  f"{pct(slot['ttfts'], 0.99) * 1000:>8.2f}ms {cpu:>20}")
        before = self.writes["user message"] + self.writes["reads before upstream"]
        for case in self.marginal:
            for c in (1, 32):
                added = self.p50(case, c) - self.p50(REF, c)
                beyond = (f" ({added - self.writes['user message']:6.2f} beyond the user-message write, "
                          f"{added - before:6.2f} beyond all database work before the first token)"
                          if case.startswith("relay") else "")
                print(f"{case} c={c:<2}: added TTFT p50 {added:6.2f} ms{beyond}; streams/s "
                      f"{self.sps(case, c) / self.sps(REF, c) * 100:5.1f}% of direct aiohttp, "
                      f"{self.sps(case, c) / self.sps('direct-httpx', c) * 100:5.1f}% of direct httpx")
        for case, (user, system) in self.marginal.items():
            print(f"server CPU per relayed chunk, marginal ({LONG}-chunk minus 1-chunk turns), {case}: "
                  f"user {user * 1e6:.1f} us + system {system * 1e6:.1f} us")
        for case, (user, system) in self.paced.items():
            print(f"  the same with the chunks {PACE * 1000:.1f} ms apart (each its own read), {case}: "
                  f"user {user * 1e6:.1f} us + system {system * 1e6:.1f} us")
        print(f"RoleCall RSS: {self.rss[0]:.1f} MiB after start, {self.rss[1]:.1f} MiB at the end; per open stream "
              "(64 held open): " + ", ".join(f"{case} {kib:.1f} KiB (idle {idle:.1f} MiB)"
                                             for case, (idle, kib) in self.memory.items()))
        print("database work per scene turn (median ms, from this process): "
              + ", ".join(f"{k} {v:.2f}" for k, v in self.writes.items()))
        print("database work of the /v1 path (median ms, from this process; none on a warm call's path before the "
              "first token): " + ", ".join(f"{k} {v:.2f}" for k, v in self.api_work.items()))
        print("  (token check: a read and the last_used_at write, once per token per 60 s; model name: one read, once "
              "per name per 5 s; usage row: written after the stream, batched every 0.5 s)")
        self.targets("relay", self.writes["user message"], "the user-message write")
        self.targets("api", 0.0, "the database writes (none on the path)")
        if litellm_present:
            print(f"litellm beside: c=32 streams/s {self.sps('litellm', 32):.1f} (api {self.sps('api', 32):.1f}, "
                  f"relay {self.sps('relay', 32):.1f}); added TTFT p50 at c=1 "
                  f"{self.p50('litellm', 1) - self.p50(REF, 1):.2f} ms (api "
                  f"{self.p50('api', 1) - self.p50(REF, 1):.2f} ms)")
        print(json.dumps({"db": self.label,
                          "marginal_cpu_us": {k: [round(u * 1e6, 1), round(s * 1e6, 1)] for k, (u, s) in self.marginal.items()},
                          "paced_cpu_us": {k: [round(u * 1e6, 1), round(s * 1e6, 1)] for k, (u, s) in self.paced.items()},
                          "kib_per_stream": {k: round(v[1], 1) for k, v in self.memory.items()},
                          "writes_ms": {k: round(v, 2) for k, v in self.writes.items()},
                          "api_db_ms": {k: round(v, 2) for k, v in self.api_work.items()}}))

    def targets(self, case: str, writes_ms: float, writes_name: str) -> None:
        """The issue-11 targets for one RoleCall path, each with the figure it is judged on."""
        added = self.p50(case, 1) - self.p50(REF, 1) - writes_ms
        cpu, burst = sum(self.paced[case]) * 1e6, sum(self.marginal[case]) * 1e6
        ratios = {ref: self.sps(case, 32) / self.sps(ref, 32) for ref in ("direct-httpx", REF)}
        slot = {c: self.results[(case, c)] for c in (1, 32)}
        turn_ms = {c: (statistics.median(s["user"]) + statistics.median(s["sys"])) * CHUNKS * 1000 for c, s in slot.items()}
        print(f"targets ({case}):")
        floor = self.p50("floor", 1) - self.p50(REF, 1)
        print(f"  added TTFT p50 at c=1 beyond {writes_name} <= 1 ms: {added:.2f} ms, {verdict(added <= 1)}")
        print(f"    (a minimal aiohttp pass-through proxy adds {floor:.2f} ms in the same run: {added - floor:.2f} ms "
              "beyond that floor of one more hop)")
        print(f"  CPU per relayed chunk (marginal, user+system, each chunk its own read) <= 30 us: {cpu:.1f} us, "
              f"{verdict(cpu <= 30)} ({burst:.1f} us when they arrive in bursts)")
        print(f"  streams/s at c=32 >= 30% of direct: {ratios['direct-httpx'] * 100:.1f}% of httpx "
              f"({verdict(ratios['direct-httpx'] >= 0.3)}), {ratios['direct-aiohttp'] * 100:.1f}% of aiohttp "
              f"({verdict(ratios['direct-aiohttp'] >= 0.3)})")
        print(f"  memory flat per stream: {self.memory[case][1]:.1f} KiB per open stream")
        print(f"  (server CPU per whole {CHUNKS}-chunk turn: {turn_ms[1]:.1f} ms at c=1, {turn_ms[32]:.1f} ms at c=32: "
              "the per-turn cost that bounds streams/s)")


def fallback(label: str, ttfts: dict[str, list[float]]) -> None:
    p50 = {case: statistics.median(values) * 1000 for case, values in ttfts.items()}
    added = p50["fallback"] - p50["relay"] - p50["direct-503"]
    print(f"\n== {label}: fallback (c=1, {len(ttfts['fallback'])} turns each, interleaved) ==")
    print(f"TTFT p50: relay (one slot) {p50['relay']:.2f} ms, fallback (503 then the next slot) {p50['fallback']:.2f} ms, "
          f"the 503 call alone {p50['direct-503']:.2f} ms")
    print(f"added by the fallback hop beyond the failed call: {added:.2f} ms (target <= 2 ms)")
    print(json.dumps({"db": label, "fallback_added_ms": round(added, 2), "p50_ms": {k: round(v, 2) for k, v in p50.items()}}))
