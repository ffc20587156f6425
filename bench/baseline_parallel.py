"""Bare Temporal workflows of the same shape as a project of 4 stages × 5 departments, for bench_parallel.

- ``BenchProject`` + ``BenchDepartment``: parent/child fan-out. The parent registers (one no-op activity);
  per stage an ``accept`` Update (activity, then five children started at once), each child takes one
  ``opinion`` Update (activity) and completes, and a ``decide`` Update waits for the children (activity).
- ``BenchProjectBranches``: the same Updates and activities in one workflow, no children (the shape
  ParallelApprovalWorkflow has), to show where the difference between the two comes from.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

STAGES, DEPARTMENTS = 4, 5
T = timedelta(seconds=30)


@workflow.defn(name="BenchDepartment")
class BenchDepartment:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.wait_condition(lambda: self.done)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return key

    @workflow.update
    async def opinion(self, x: str) -> str:
        await workflow.execute_activity("bench_noop", x, start_to_close_timeout=T)
        self.done = True
        return x


@workflow.defn(name="BenchProject")
class BenchProject:
    def __init__(self) -> None:
        self.children: dict[int, list[Any]] = {}
        self.decided = -1

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.execute_activity("bench_noop", key, start_to_close_timeout=T)
        await workflow.wait_condition(lambda: self.decided == STAGES - 1)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return key

    @workflow.update
    async def accept(self, stage: int) -> str:
        await workflow.execute_activity("bench_noop", str(stage), start_to_close_timeout=T)
        wid = workflow.info().workflow_id
        self.children[stage] = list(
            await asyncio.gather(
                *(
                    workflow.start_child_workflow(BenchDepartment.run, f"{wid}/{stage}/{d}", id=f"{wid}/{stage}/{d}")
                    for d in range(DEPARTMENTS)
                )
            )
        )
        return "accepted"

    @workflow.update
    async def decide(self, stage: int) -> str:
        await workflow.wait_condition(lambda: stage in self.children)
        await asyncio.gather(*self.children[stage])  # every department's child has completed
        await workflow.execute_activity("bench_noop", str(stage), start_to_close_timeout=T)
        self.decided = stage
        return "decided"


@workflow.defn(name="BenchProjectBranches")
class BenchProjectBranches:
    def __init__(self) -> None:
        self.decided = -1

    @workflow.run
    async def run(self, key: str) -> str:
        await workflow.execute_activity("bench_noop", key, start_to_close_timeout=T)
        await workflow.wait_condition(lambda: self.decided == STAGES - 1)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return key

    @workflow.update
    async def accept(self, stage: int) -> str:
        await workflow.execute_activity("bench_noop", str(stage), start_to_close_timeout=T)
        return "accepted"

    @workflow.update
    async def opinion(self, stage: int, department: int) -> str:
        await workflow.execute_activity("bench_noop", f"{stage}/{department}", start_to_close_timeout=T)
        return "given"

    @workflow.update
    async def decide(self, stage: int) -> str:
        await workflow.execute_activity("bench_noop", str(stage), start_to_close_timeout=T)
        self.decided = stage
        return "decided"
