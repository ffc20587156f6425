"""The baselines for bench_case_workflow: the old bare one (start → one no-op activity → one Update → complete)
and the same-shape one (the case's round trips: start, registration query, 3 Updates, 5 SQLite commits)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
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


# ---- the same-shape baseline: exactly the case's round trips, without the engine -------------------


class SqliteCommit:
    """The activity of the same-shape baseline: commit one row to a SQLite file (WAL, like the event store)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS rows (command_id TEXT PRIMARY KEY, at REAL NOT NULL)")

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30)
        return db

    @activity.defn(name="bench_commit")
    def commit(self, command_id: str) -> str:
        db = self._db()
        with db:  # one transaction, one row; idempotent on the command id like the case's activity
            db.execute("INSERT OR IGNORE INTO rows (command_id, at) VALUES (?, ?)", (command_id, time.time()))
        return command_id


@workflow.defn(name="BenchSameShape")
class BenchSameShape:
    """start → commit (registration) → 3 Updates (accept, decide, deliver) → commit each; deliver also
    commits the completion: 5 activities and 3 Updates, like CaseWorkflow under bench_case_workflow."""

    def __init__(self) -> None:
        self.registered = False
        self.closed = False
        self.seq = 0
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, key: str) -> int:
        async with self.lock:
            await self._commit(key, "submit")
            self.registered = True
        await workflow.wait_condition(lambda: self.closed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.seq

    async def _commit(self, key: str, step: str) -> None:
        self.seq += 1
        await workflow.execute_activity(
            "bench_commit", f"{key}/{self.seq}:{step}", start_to_close_timeout=timedelta(seconds=60)
        )

    @workflow.update
    async def step(self, name: str) -> int:
        async with self.lock:
            await self._commit(workflow.info().workflow_id, name)
            if name == "deliver":
                await self._commit(workflow.info().workflow_id, "complete")
                self.closed = True
            return self.seq

    @step.validator
    def _check(self, name: str) -> None:
        if not self.registered or self.closed:
            raise ValueError("not ready")

    @workflow.query
    def is_registered(self) -> bool:
        return self.registered


# ---- the same-shape baseline after issue 10 item 2: the round trips a case needs now ---------------


class SqliteCommitRows(SqliteCommit):
    """Commit several rows in ONE transaction (a step that records two events in one save)."""

    @activity.defn(name="bench_commit_rows")
    def commit_rows(self, command_ids: list[str]) -> int:
        db = self._db()
        with db:
            db.executemany(
                "INSERT OR IGNORE INTO rows (command_id, at) VALUES (?, ?)", [(c, time.time()) for c in command_ids]
            )
        return len(command_ids)


@workflow.defn(name="BenchSameShapeNow")
class BenchSameShapeNow:
    """Started by Update-with-Start with the registration Update (answered once the registration's row is
    committed) → 3 Updates (accept, decide, deliver), one commit each; deliver commits its two rows
    (deliver, complete) in one transaction: 4 activities, 4 Updates and no query, like CaseWorkflow now."""

    def __init__(self) -> None:
        self.registered = False
        self.closed = False
        self.seq = 0
        self.lock = asyncio.Lock()

    @workflow.run
    async def run(self, key: str) -> int:
        async with self.lock:
            await self._commit(key, "submit")
            self.registered = True
        await workflow.wait_condition(lambda: self.closed)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.seq

    async def _commit(self, key: str, *steps: str) -> None:
        ids = []
        for step in steps:
            self.seq += 1
            ids.append(f"{key}/{self.seq}:{step}")
        await workflow.execute_activity("bench_commit_rows", ids, start_to_close_timeout=timedelta(seconds=60))

    @workflow.update
    async def registration(self) -> int:
        await workflow.wait_condition(lambda: self.registered)
        return self.seq

    @workflow.update
    async def step(self, name: str) -> int:
        async with self.lock:
            if name == "deliver":
                await self._commit(workflow.info().workflow_id, "deliver", "complete")
                self.closed = True
            else:
                await self._commit(workflow.info().workflow_id, name)
            return self.seq

    @step.validator
    def _check(self, name: str) -> None:
        if not self.registered or self.closed:
            raise ValueError("not ready")


# ---- the same-shape baseline with the search attributes every workflow must keep (issue 11) ---------

with workflow.unsafe.imports_passed_through():
    from workflows.search_attributes import (
        CASE_NO,
        CASE_STATUS,
        DEPARTMENT,
        MATTER,
        OVERDUE,
        PROMISED_DEADLINE,
        REGION,
    )


@workflow.defn(name="BenchSameShapeFindable")
class BenchSameShapeFindable(BenchSameShapeNow):
    """BenchSameShapeNow, findable as a case is (issue 11): after each commit it upserts what CaseWorkflow
    upserts after the same step, the same attributes with values of the same size. The registration sets
    the identity, the status and Overdue; accept the status and PromisedDeadline; decide and deliver the
    status. So the ratio against it leaves out what issue 11 asks of every workflow, and keeps the rest."""

    @workflow.run
    async def run(self, key: str) -> int:
        return await super().run(key)

    async def _commit(self, key: str, *steps: str) -> None:
        await super()._commit(key, *steps)
        step = steps[-1]
        if step == "submit":
            workflow.upsert_search_attributes(
                [
                    CASE_NO.value_set(f"513221-20261128-{key[-6:]:0>6}"),
                    REGION.value_set("汶川县"),
                    DEPARTMENT.value_set("汶川县市场监督管理局"),
                    MATTER.value_set("513221-SCJG-001"),
                    CASE_STATUS.value_set("submitted"),
                    OVERDUE.value_set(False),
                ]
            )
        elif step == "accept":
            workflow.upsert_search_attributes(
                [
                    CASE_STATUS.value_set("under_review"),
                    PROMISED_DEADLINE.value_set(workflow.now() + timedelta(days=20)),
                ]
            )
        else:
            workflow.upsert_search_attributes([CASE_STATUS.value_set({"decide": "decided"}.get(step, "completed"))])
