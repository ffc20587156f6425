"""What the benchmarks share: run N calls with bounded concurrency, and read percentiles of latencies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def _bounded(n: int, concurrency: int, fn: Callable[[int], Awaitable[None]]) -> list[float]:
    """Call ``fn(0..n-1)`` with at most ``concurrency`` in flight; the latencies, sorted."""
    sem = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with sem:
            t = time.perf_counter()
            await fn(i)
            latencies.append(time.perf_counter() - t)

    await asyncio.gather(*(one(i) for i in range(n)))
    return sorted(latencies)


def pct(lat: list[float], p: float) -> float:
    """The ``p`` percentile of sorted latencies."""
    return lat[min(len(lat) - 1, int(p * len(lat)))]
