"""Exactly-once projections on SQLite and PostgreSQL: SIGKILLed mid-catch-up, re-delivery, a second runner."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, inspect, select, text

from domain.cases.application import CaseApplication
from domain.cases.model import CaseView
from projections.cases import CasesProjection
from projections.decoder import read_stored
from projections.runner import ProjectionBusy, ProjectionRunner, TrackingConflict, lease, make_engine
from projections.tables import case_facts, case_tasks, service_stats, worklist_done

from .conftest import PG_ADMIN
from .support import seed_live_cases

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stores:
    kind: str
    app: CaseApplication
    event_store_url: str
    read_model_url: str
    spare_read_model_url: str  # for from-scratch recomputations

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ONESEAL_EVENT_STORE": self.kind,
            "ONESEAL_EVENT_STORE_URL": self.event_store_url,
            "ONESEAL_READ_MODEL_URL": self.read_model_url,
            "ONESEAL_PROJECTION_BATCH": "100",
        }


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "sqlite":
        url = str(tmp_path / "events.db")
        app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": url})
        yield Stores("sqlite", app, url, f"sqlite:///{tmp_path / 'rm.db'}", f"sqlite:///{tmp_path / 'rm2.db'}")
        return
    db: str = request.getfixturevalue("pg_database")
    dbname = db.rsplit("/", 1)[1]
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={dbname}"), autocommit=True) as conn:
        for schema in (f"es_{tag}", f"rm_{tag}", f"rm2_{tag}"):
            conn.execute(f"CREATE SCHEMA {schema}")
    from services.settings import postgres_env

    url = f"{db}?schema=es_{tag}"
    app = CaseApplication(env=postgres_env(url))
    yield Stores(
        "postgres", app, url, f"{db}?options=-csearch_path%3Drm_{tag}", f"{db}?options=-csearch_path%3Drm2_{tag}"
    )


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything the read models hold, in a comparable form (no surrogate ids)."""
    with engine.connect() as conn:
        return {
            "facts": sorted(tuple(r) for r in conn.execute(select(case_facts))),
            "stats": sorted(tuple(r) for r in conn.execute(select(service_stats))),
            "worklist": sorted(tuple(r) for r in conn.execute(select(case_tasks))),
            "done": sorted(tuple(r)[1:] for r in conn.execute(select(worklist_done))),
        }


def recompute(stores: Stores, until: int) -> dict[str, Any]:
    engine = make_engine(stores.spare_read_model_url)
    with engine.begin() as conn:  # start from nothing
        for t in ("worklist_done", "case_tasks", "service_stats", "case_facts", "projection_tracking"):
            conn.execute(text(f"DROP TABLE IF EXISTS {t}"))
    runner = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=1000)
    runner.catch_up(until=until)
    result = snapshot(engine)
    engine.dispose()
    return result


def start_projector(stores: Stores) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "workers.projector"],
        cwd=ROOT,
        env=stores.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_sigkilled_projector_neither_loses_nor_double_counts(stores: Stores) -> None:
    events = seed_live_cases(stores.app, 2200, seed=11)
    assert events >= 10_000
    head = int(stores.app.recorder.max_notification_id() or 0)
    engine = make_engine(stores.read_model_url)
    runner = ProjectionRunner(stores.app, engine, CasesProjection())  # reads positions; never steps here
    rng = random.Random(3)
    kills = 0
    proc = start_projector(stores)
    try:
        for fraction in (0.15, 0.35, 0.55):
            target = int(head * (fraction + rng.uniform(-0.05, 0.05)))
            deadline = time.monotonic() + 120
            while runner.position() < target:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                assert time.monotonic() < deadline, "projector made no progress"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
            # At every kill, the view equals the events up to its position, no more, no less.
            position = runner.position()
            assert 0 < position < head
            assert snapshot(engine) == recompute(stores, position)
            proc = start_projector(stores)  # the lease died with the process
        deadline = time.monotonic() + 180
        while runner.position() < head:
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert kills == 3
    final = snapshot(engine)
    assert final == recompute(stores, head)
    # And against the aggregates themselves, independently of the projection code.
    numbers = list(stores.app.iter_case_numbers())
    cases = [stores.app.get_case(no) for no in numbers]
    with engine.connect() as conn:
        sums = conn.execute(select(*(getattr(service_stats.c, c) for c in ("accepted", "completed")))).all()
        assert sum(r[0] for r in sums) == sum(1 for c in cases if c.accepted_at)
        assert sum(r[1] for r in sums) == sum(1 for c in cases if c.status == "completed")
        assert conn.execute(select(case_facts.c.case_no)).all().__len__() == len(numbers) == 2200
        open_tasks = conn.execute(select(case_tasks.c.ref)).all()
        assert len(open_tasks) == sum(1 for c in cases if c.awaiting)


def test_redelivered_events_change_nothing(stores: Stores) -> None:
    seed_live_cases(stores.app, 60, seed=5)
    engine = make_engine(stores.read_model_url)
    runner = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=100)
    runner.catch_up()
    before = snapshot(engine)
    notifications = stores.app.recorder.select_notifications(start=1, limit=100)
    events = [e for e in (CasesProjection().decode(n) for n in notifications) if e is not None]
    # 1. Through the projection alone: every event is recognised as applied (per-case versions).
    with engine.begin() as conn:
        runner.projection.apply_batch(conn, events)
    assert snapshot(engine) == before
    # 2. Through the runner's transaction: the position only moves forward, so the batch rolls back.
    with pytest.raises(TrackingConflict), engine.begin() as conn:
        moved = conn.execute(
            text("UPDATE projection_tracking SET notification_id = :n WHERE name = 'cases' AND notification_id = :s"),
            {"n": notifications[-1].id, "s": 0},
        ).rowcount
        runner.projection.apply_batch(conn, events)
        if moved != 1:
            raise TrackingConflict("already past")
    assert snapshot(engine) == before


def test_a_second_runner_fails_loudly_and_corrupts_nothing(stores: Stores) -> None:
    seed_live_cases(stores.app, 300, seed=9)
    engine = make_engine(stores.read_model_url)
    first = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=50)
    second = ProjectionRunner(stores.app, make_engine(stores.read_model_url), CasesProjection(), batch_size=50)
    with lease(engine, "cases"):
        with pytest.raises(ProjectionBusy) as busy, lease(second.engine, "cases"):
            pass
        assert "另一个进程" in str(busy.value)
        # Even without the lease, two runners that start from the same position cannot both commit.
        position = first.position()
        first.step()
        original = second.position
        second.position = lambda: position  # type: ignore[method-assign]  # it read the position before
        with pytest.raises(TrackingConflict):
            second.step()
        second.position = original  # type: ignore[method-assign]
        first.catch_up()
    assert snapshot(engine) == recompute(stores, first.head())


def test_rebuild_equals_the_live_read_model(stores: Stores) -> None:
    seed_live_cases(stores.app, 400, seed=13)
    engine = make_engine(stores.read_model_url)
    runner = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=97)
    runner.catch_up()
    live = snapshot(engine)
    progress: list[tuple[int, int]] = []
    runner.rebuild(lambda pos, head: progress.append((pos, head)))
    assert snapshot(engine) == live
    assert progress[-1][0] == progress[-1][1] == runner.head()


def test_monthly_statistics_count_open_and_overdue_cases_at_month_end(stores: Stores) -> None:
    from datetime import UTC, datetime

    from projections.queries import monthly_statistics

    seed_live_cases(stores.app, 500, seed=21)  # April 2020, some still open, some overdue
    engine = make_engine(stores.read_model_url)
    ProjectionRunner(stores.app, engine, CasesProjection()).catch_up()
    rows = monthly_statistics(engine, "2020-04")
    end = datetime(2020, 4, 30, 16, tzinfo=UTC)  # 1 May 00:00 in Beijing
    cases = [stores.app.get_case(no) for no in stores.app.iter_case_numbers()]

    def open_at_end(c: CaseView) -> bool:
        accepted, finished = c.accepted_at, c.completed_at
        closed = c.delivered_at if c.status == "completed" else None
        withdrawn = c.status == "withdrawn"
        return bool(
            accepted
            and accepted < end
            and not (finished and finished < end)
            and not (closed and closed < end)
            and not withdrawn
        )

    expected_open = sum(1 for c in cases if open_at_end(c))
    expected_overdue = sum(1 for c in cases if open_at_end(c) and c.promised_deadline and c.promised_deadline < end)
    assert sum(r["open_at_month_end"] for r in rows) == expected_open > 0
    assert sum(r["overdue_at_month_end"] for r in rows) == expected_overdue
    assert sum(r["accepted"] for r in rows) == sum(1 for c in cases if c.accepted_at and c.accepted_at < end)
    assert all(r["completed_on_time"] + r["completed_overdue"] == r["completed"] for r in rows)


def test_one_query_per_batch_reads_what_the_notification_log_gives(stores: Stores) -> None:
    """The runner's direct read (one SQL query per batch) returns exactly the library's notifications,
    in order, from any position, and decodes them to the same events as one notification at a time."""
    seed_live_cases(stores.app, 40, seed=11)
    recorder = stores.app.recorder
    for start, limit in ((0, 1000), (17, 50), (int(recorder.max_notification_id()), 10)):
        expected = [
            (n.id, n.originator_id.hex, n.originator_version, n.topic, n.state)
            for n in recorder.select_notifications(start=start, limit=limit, inclusive_of_start=False)
        ]
        rows = read_stored(recorder, start, limit)
        assert [(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows] == expected
    projection = CasesProjection()
    notifications = recorder.select_notifications(start=0, limit=1000, inclusive_of_start=False)
    one_by_one = [e for e in (projection.decode(n) for n in notifications) if e is not None]
    assert projection.decode_rows(read_stored(recorder, 0, 1000)) == one_by_one
    assert len(one_by_one) > 150


# ---- sharded catch-up (projections/sharded.py): several processes, exactly once -------------------------


def shard_rows(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT name, notification_id FROM projection_tracking"))]


def indexes(engine: Engine) -> set[str]:
    found = inspect(engine)
    names = {str(i["name"]) for t in ("case_facts", "case_tasks", "worklist_done") for i in found.get_indexes(t)}
    return {n for n in names if n.startswith("ix_")}  # not PostgreSQL's own for the UNIQUE constraints


def wanted_indexes() -> set[str]:
    return {str(i.name) for t in (case_facts, case_tasks, worklist_done) for i in t.indexes}


def test_a_sharded_catch_up_writes_what_one_runner_writes(stores: Stores) -> None:
    seed_live_cases(stores.app, 500, seed=21)
    head = int(stores.app.recorder.max_notification_id() or 0)
    engine = make_engine(stores.read_model_url)
    runner = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=200, shards=3, shard_threshold=0)
    assert runner.catch_up() == head
    assert snapshot(engine) == recompute(stores, head)
    assert shard_rows(engine) == [("cases", head)]  # the shards' rows merged into the projection's position
    assert indexes(engine) == wanted_indexes()  # dropped for the catch-up from nothing, built again after it
    # Below the threshold it steps in this process, from where it is.
    seed_live_cases(stores.app, 20, seed=22)
    runner.shard_threshold = 10**9
    runner.catch_up()
    assert snapshot(engine) == recompute(stores, runner.head())


class DiesInItsThirdBatch(CasesProjection):
    """A shard process SIGKILLed inside its third write, before the commit (a crash mid-batch)."""

    written = 0  # per process: each shard is a fork with its own copy

    def write_batch(self, conn: Any, changes: Any) -> None:
        super().write_batch(conn, changes)
        DiesInItsThirdBatch.written += 1
        if DiesInItsThirdBatch.written == 3:
            os.kill(os.getpid(), signal.SIGKILL)


def test_a_sharded_catch_up_cut_off_resumes_where_each_shard_stopped(stores: Stores) -> None:
    from projections.sharded import ShardFailed

    seed_live_cases(stores.app, 500, seed=23)
    head = int(stores.app.recorder.max_notification_id() or 0)
    engine = make_engine(stores.read_model_url)
    dying = ProjectionRunner(stores.app, engine, DiesInItsThirdBatch(), batch_size=100, shards=2, shard_threshold=0)
    with pytest.raises(ShardFailed) as failed:
        dying.catch_up()
    assert failed.value.code == "PROJECTION_SHARD_FAILED" and "下次启动时从断点继续" in str(failed.value)
    left = dict(shard_rows(engine))
    assert left.pop("cases") == 0  # the projection's own position has not moved
    # Each shard stopped at the end of a batch it committed (the one that died had committed 2; the other
    # was stopped by the parent wherever it was): 200 notifications per shard batch here.
    assert len(left) == 2 and all(p % 200 == 0 and p < head for p in left.values()) and max(left.values()) >= 400
    assert indexes(engine) < wanted_indexes()  # cut off before the indexes were built again
    # Another runner (one process) must finish the shards before it steps, or it would apply them twice.
    runner = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=100)
    assert indexes(engine) == wanted_indexes()  # its ensure_schema made them
    assert runner.step() > 0
    assert [n for n, _ in shard_rows(engine)] == ["cases"]
    runner.catch_up()
    assert snapshot(engine) == recompute(stores, head)


def test_a_rebuild_forgets_a_cut_off_sharded_catch_up(stores: Stores) -> None:
    from projections import sharded

    seed_live_cases(stores.app, 40, seed=24)
    engine = make_engine(stores.read_model_url)
    runner = ProjectionRunner(stores.app, engine, CasesProjection(), batch_size=50)
    sharded.plan(engine, "cases", "Cases", 0, runner.head(), 2)
    runner.rebuild()
    assert shard_rows(engine) == [("cases", runner.head())]
    assert snapshot(engine) == recompute(stores, runner.head())


def children_of(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(c) for c in task.read_text().split()]
    return found


def test_a_sigkilled_projector_takes_its_shards_with_it_and_the_next_one_finishes(stores: Stores) -> None:
    seed_live_cases(stores.app, 2200, seed=25)
    head = int(stores.app.recorder.max_notification_id() or 0)
    engine = make_engine(stores.read_model_url)
    watcher = ProjectionRunner(stores.app, engine, CasesProjection())  # makes the tables; reads positions only
    env = {**stores.env(), "ONESEAL_PROJECTOR_SHARDS": "2", "ONESEAL_PROJECTOR_SHARD_THRESHOLD": "1000"}
    proc = subprocess.Popen([sys.executable, "-m", "workers.projector"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not any("#" in n and 0 < p < head for n, p in shard_rows(engine)):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no shard made progress"
            time.sleep(0.01)
        shards = children_of(proc.pid)
        assert len(shards) >= 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]
                  for p in shards):  # fmt: skip
            assert time.monotonic() < deadline, "a shard process outlived its projector"
            time.sleep(0.05)
        assert dict(shard_rows(engine))["cases"] == 0  # cut off: nothing merged
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc = subprocess.Popen([sys.executable, "-m", "workers.projector"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while watcher.position() < head:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert all("#" not in n for n, _ in shard_rows(engine))
    assert snapshot(engine) == recompute(stores, head)
