"""The Temporal worker: every process's workflows and activities (cases, parallel approval) on one task queue."""

from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from domain.cases.application import CaseApplication
from domain.parallel.commands import ProjectCommands
from domain.transfer.commands import TransferCommands
from services.bootstrap import Bootstrap, temporal_connect_options
from services.metrics import serve
from services.settings import Settings
from services.visibility import SearchAttributesUnavailable, ensure_search_attributes
from workers.logging import configure_logging
from workers.telemetry import ActivityMetrics
from workflows.case import CaseWorkflow
from workflows.case_activities import CaseActivities
from workflows.parallel import ParallelApprovalWorkflow
from workflows.parallel_activities import ProjectActivities
from workflows.transfer import ItemTransferWorkflow, SupervisionWorkflow, TransferProgrammeWorkflow
from workflows.transfer_activities import FiguresSource, TransferActivities

log = structlog.get_logger("oneseal.worker")


# Every workflow the worker runs (and every recorded history replays against: tests/replay/).
WORKFLOWS: list[type] = [
    CaseWorkflow,
    ParallelApprovalWorkflow,
    TransferProgrammeWorkflow,
    ItemTransferWorkflow,
    SupervisionWorkflow,
]


def trial_figures_from(boot: Bootstrap) -> FiguresSource:
    """The weekly snapshot's figures of every due week: the case read model brought up to the store's head
    once, then one read of the item's cases over all the weeks."""
    from projections.transfer_figures import trial_figures_of

    def figures(**query: object) -> object:
        boot.projections.ensure_fresh("cases")
        return trial_figures_of(boot.read_models, calendar=boot.store.calendar, **query)  # type: ignore[arg-type]

    return figures  # type: ignore[return-value]


def build_worker(
    client: Client,
    app: CaseApplication,
    task_queue: str,
    *,
    crash_after_commit_once: frozenset[str] = frozenset(),
    max_threads: int = 16,
    boot: Bootstrap | None = None,
    max_cached_workflows: int = 1000,
) -> Worker:
    """One place that wires workflows to activities; tests use it too, with their own store and queue."""
    activities = CaseActivities(app, crash_after_commit_once=crash_after_commit_once)
    projects = ProjectActivities(ProjectCommands.over(app), crash_after_commit_once=crash_after_commit_once)
    # The transfer's weekly snapshot reads the read models: wired when the caller passes its Bootstrap.
    transfer = TransferActivities(TransferCommands.over(app), figures=trial_figures_from(boot) if boot else None)
    return Worker(
        client,
        task_queue=task_queue,
        interceptors=[ActivityMetrics()],  # oneseal_activity_* (workers/telemetry.py)
        workflows=WORKFLOWS,
        activities=[activities.case_command, projects.project_command, transfer.transfer_command],
        activity_executor=ThreadPoolExecutor(max_workers=max_threads),
        max_concurrent_activities=max_threads,
        max_cached_workflows=max_cached_workflows,  # the sticky cache (the SDK's default, 1000)
    )


async def connect(settings: Settings, attempts: int = 60) -> Client:
    """Connect, waiting for a dev server that is still starting."""
    for i in range(attempts):
        try:
            return await Client.connect(settings.temporal_target, **temporal_connect_options(settings))
        except RuntimeError:
            if i == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def main() -> None:
    boot = Bootstrap()
    settings = boot.settings
    configure_logging(settings.log_format)
    client = await connect(settings)
    serve(boot, read_models=False)
    try:  # the case workflow upserts them: a missing one would stall every case's workflow task
        added = [a.name for a in await ensure_search_attributes(client, settings.temporal_namespace)
                 if a.state == "added"]  # fmt: skip
        if added:
            log.info("worker.search_attributes_added", names=added)
    except SearchAttributesUnavailable as e:
        log.warning("worker.search_attributes_unchecked", reason=str(e))
    worker = build_worker(client, boot.store, settings.task_queue, boot=boot)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker.started",
        task_queue=settings.task_queue,
        temporal=settings.temporal_target,
        event_store=settings.event_store,
    )
    async with worker:
        await stop.wait()
    log.info("worker.stopped")


if __name__ == "__main__":
    import os
    import sys

    asyncio.run(main())
    sys.stderr.flush()
    os._exit(0)  # skip finalisation: the Temporal runtime's native threads can abort it
