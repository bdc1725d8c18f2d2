"""Agents that come and go at a steady rate, for the console benchmark: each step connects one
simulated agent (an `up` event) or closes one (a `down` event), `--rate` steps a second:

    python bench/console_flapper.py --identities agents.jsonl --url ws://127.0.0.1:5000/api/v1/agent/ws \
        --agents 200 --rate 100 --duration 20

Uses the identities `simagents.py enroll` wrote; loopback only, bounded in count and time. Prints one
JSON line: steps done, ups, downs, failures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from simagents import SimAgent, Stats, load_fleet, private_from_b64

from borealis.protocol import keys


async def flap(identities: Path, url: str, count: int, rate: float, duration: float) -> dict[str, int]:
    header, records = load_fleet(identities)
    server_key = keys.public_from_b64(header["server_public_key"])
    stats, stopping, rng = Stats(), asyncio.Event(), random.Random(7)
    gate = asyncio.Semaphore(64)
    agents = [
        SimAgent(
            r["agent_id"], private_from_b64(r["key"]), server_key, url, None, 30.0, stats, gate, stopping, rng
        )
        for r in records[-count:]
    ]
    up = [False] * len(agents)
    counts = {"steps": 0, "ups": 0, "downs": 0, "failures": 0}
    pending: set[asyncio.Task[None]] = set()

    async def step(index: int) -> None:
        agent = agents[index]
        try:
            if up[index]:
                await agent.close()
                up[index] = False
                counts["downs"] += 1
            else:
                await agent._connect(record_latency=False)
                up[index] = True
                counts["ups"] += 1
        except Exception:
            counts["failures"] += 1

    started = time.monotonic()
    index = 0
    while time.monotonic() - started < duration:
        task = asyncio.create_task(step(index))
        pending.add(task)
        task.add_done_callback(pending.discard)
        counts["steps"] += 1
        index = (index + 1) % len(agents)
        await asyncio.sleep(max(0.0, started + counts["steps"] / rate - time.monotonic()))
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.gather(*(a.close() for a, live in zip(agents, up, strict=True) if live))
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--identities", type=Path, required=True)
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:PORT/api/v1/agent/ws (loopback)")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100.0, help="status changes per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds, at most 600")
    args = parser.parse_args(argv)
    if not args.url.startswith(("ws://127.", "ws://localhost")):
        parser.error("loopback URLs only")
    result = asyncio.run(flap(args.identities, args.url, args.agents, args.rate, min(args.duration, 600.0)))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
