"""Bare Temporal workflows of the same fan-out shape as a transfer programme, for bench_transfer.

``BenchProgramme`` starts one ``BenchItem`` child per item, batch after batch (as the real programme, whose
next batch opens once the previous batch's cut-over moment has come: in the bench, at once), with at most
``max_pending`` children running at once (a new one starts when one completes, as a programme stays within
Temporal's pending-children limit), and waits for all of them.
Each ``BenchItem`` runs one no-op activity (opening its handover), takes ``SIGNS`` ``sign`` Updates
(each an activity: a checklist entry signed by one party), runs one activity (the cut-over), takes
one ``decide`` Update (an activity) and completes: the Updates and activities an item's transfer has,
without any domain rule, aggregate or store.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

SIGNS = 2  # one "all" sign-off per party (7 checklist entries each), as the scenario signs
T = timedelta(seconds=60)


@workflow.defn(name="BenchItem")
class BenchItem:
    def __init__(self) -> None:
        self.signed = 0
        self.decided = False

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.execute_activity("bench_noop", key, start_to_close_timeout=T)  # open the handover
        await workflow.wait_condition(lambda: self.signed == SIGNS)
        await workflow.execute_activity("bench_noop", key, start_to_close_timeout=T)  # cut over
        await workflow.wait_condition(lambda: self.decided)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return key

    @workflow.update
    async def sign(self, entry: int) -> str:
        await workflow.execute_activity("bench_noop", str(entry), start_to_close_timeout=T)
        self.signed += 1
        return "signed"

    @workflow.update
    async def decide(self, decision: str) -> str:
        await workflow.wait_condition(lambda: self.signed == SIGNS)
        await workflow.execute_activity("bench_noop", decision, start_to_close_timeout=T)
        self.decided = True
        return decision


@workflow.defn(name="BenchProgramme")
class BenchProgramme:
    @workflow.run
    async def run(self, key: str, batches: list[int], max_pending: int) -> int:
        """``batches``: items per batch, in cut-over order; children ids ``{key}-{batch}-{i}``."""
        # As the real programme: batch n+1 opens once batch n's cut-over MOMENT has come (in the bench every
        # moment is past, so at once), not once its items have ended; the children start in batch order, at
        # most ``max_pending`` running at once. (Until 2026-11-28 03:50 UTC this waited for every child of a
        # batch before starting the next one: bench runs 1-3 measured that stricter baseline.)
        sem = asyncio.Semaphore(max_pending)

        async def one(b: int, i: int) -> None:
            async with sem:
                await workflow.execute_child_workflow(BenchItem.run, f"{key}-{b}-{i}", id=f"{key}-{b}-{i}")

        await asyncio.gather(*(one(b, i) for b, size in enumerate(batches) for i in range(size)))
        return sum(batches)
