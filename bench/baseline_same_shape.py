"""The same-shape baseline for bench_case_workflow: a bare Temporal workflow with exactly a case's round
trips — start, a registration query loop, 3 Updates, 5 activities each committing one row to a SQLite
file (submit; accept; decide; deliver, then complete) — and none of OneSeal's domain, store or codec."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

from temporalio import activity, workflow

_local = threading.local()
DB_PATH: list[str] = []  # set by the bench before the worker starts


def _conn() -> sqlite3.Connection:
    conn: sqlite3.Connection | None = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = sqlite3.connect(DB_PATH[0], timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY, step TEXT)")
    return conn


@activity.defn(name="bench_commit_row")
def bench_commit_row(key: str) -> str:
    conn = _conn()
    with conn:
        conn.execute("INSERT INTO rows (id, step) VALUES (?, ?)", (key, key.rsplit("/", 1)[-1]))
    return key


@workflow.defn(name="BenchSameShape")
class BenchSameShape:
    def __init__(self) -> None:
        self.registered = False
        self.steps = 0

    async def _commit(self, step: str) -> None:
        key = f"{workflow.info().workflow_id}/{step}"
        await workflow.execute_activity(bench_commit_row, key, start_to_close_timeout=timedelta(seconds=10))

    @workflow.run
    async def run(self, x: str) -> str:
        await self._commit("submit")
        self.registered = True
        await workflow.wait_condition(lambda: self.steps == 3 and workflow.all_handlers_finished())
        return x

    @workflow.query
    def status(self) -> bool:
        return self.registered

    @workflow.update
    async def step(self, name: str) -> str:
        await workflow.wait_condition(lambda: self.registered)
        await self._commit(name)
        if name == "deliver":
            await self._commit("complete")
        self.steps += 1
        return name
