"""The bare baseline for bench_case_workflow: start → one no-op activity → one Update → complete."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn(name="bench_noop")
def bench_noop(x: str) -> str:
    return x


@workflow.defn(name="BenchBaseline")
class BenchBaseline:
    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, x: str) -> str:
        await workflow.execute_activity("bench_noop", x, start_to_close_timeout=timedelta(seconds=30))
        await workflow.wait_condition(lambda: self.done)
        return x

    @workflow.update
    async def finish(self) -> str:
        self.done = True
        return "ok"
