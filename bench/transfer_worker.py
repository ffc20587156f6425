"""A worker process for bench_transfer: ``python -m bench.transfer_worker transfer|baseline N``.

Configured by the same ``ONESEAL_*`` environment as ``oneseal worker`` (Temporal address, task queue, event
store, read models).

- ``transfer``: exactly what ``oneseal worker`` runs (``workers.worker.main``: every workflow and activity,
  the read models wired for the weekly snapshot), with one difference: its catalogue is the catalogue
  ``bench.bench_transfer.synthetic(N, …)`` makes up (N licensing matters of the Maerkang departments), which
  the shipped CSV does not have and the cut-overs route.
- ``baseline``: a worker of the bare ``BenchProgramme`` / ``BenchItem`` workflows and the no-op activity,
  with the same activity slots (16) as the real worker.

Each logs one JSON line once it polls (``worker.started``, ``bench.worker.started``) and stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor


async def baseline() -> None:
    from temporalio.worker import Worker

    from bench.baseline_transfer import BenchItem, BenchProgramme
    from bench.baseline_workflow import bench_noop
    from services.settings import Settings
    from workers.worker import connect

    settings = Settings.from_env()
    client = await connect(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[BenchProgramme, BenchItem],
        activities=[bench_noop],
        activity_executor=ThreadPoolExecutor(16),
        max_concurrent_activities=16,
    ):
        print('{"event": "bench.worker.started"}', flush=True)
        await stop.wait()


async def transfer(n: int) -> None:
    import domain.cases.application
    from bench.bench_transfer import synthetic
    from domain.catalogue import default_catalogue
    from workers import worker

    catalogue, _ = synthetic(n, default_catalogue())
    domain.cases.application.default_catalogue = lambda: catalogue  # type: ignore[assignment]
    await worker.main()  # logs worker.started once it polls


if __name__ == "__main__":
    leg, n = sys.argv[1], int(sys.argv[2])
    asyncio.run(baseline() if leg == "baseline" else transfer(n))
    sys.stderr.flush()
    os._exit(0)  # skip finalisation: the Temporal runtime's native threads can abort it
