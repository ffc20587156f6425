"""A stand-in for the transfer's SupervisionWorkflow (its own module: the workflow sandbox re-imports it)."""

from __future__ import annotations

from temporalio import workflow


@workflow.defn(name="SupervisionWorkflow")
class StubSupervision:
    """Started by the case workflow by name, with the case number; answers it back."""

    @workflow.run
    async def run(self, case_no: str) -> str:
        return case_no
