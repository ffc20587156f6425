"""Catch-up of a far-behind projection by several processes at once, one shard of the aggregates each.

A rebuild, or a projector that starts far behind (a new read model, a schema change, a corrupt file moved
aside), spends most of its time in Python (decode, apply) and a single process uses one core. A projection
whose rows belong to one aggregate each and whose shared rows only add up (``cases``: a row per case, a
task per case, counters summed in ``service_stats``) can be split by aggregate: shard ``k`` of ``n``
applies the events of the aggregates whose id falls in it, and the shards run in parallel processes.

Exactly once, as for one runner:

- each shard has its own tracking row (``<name>#<k>/<n>:<start>-<end>``) moved in the same transaction as
  its rows, by a conditional update, so a shard's batch is applied once or rolled back;
- the projection's own position stays at ``start`` until every shard has reached ``end``; one transaction
  then moves it to ``end`` and deletes the shard rows (readers waiting for a position see it move once);
- a catch-up cut off (a crash, SIGKILL, Ctrl-C) leaves the shard rows: the next runner of the projection
  resumes those shards to the same ``end`` before it steps on (``ProjectionRunner``), and a rebuild or a
  schema change deletes them with the projection's position.

SQLite has one writer at a time: the shards plan a batch (read their own rows, apply in memory) outside a
lock shared by the processes, and hold it only to write and commit. On PostgreSQL they write side by side:
their rows are disjoint, and the counters they share are upserted in key order (``CasesProjection``), so
two transactions wait for each other and never deadlock.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import queue
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from eventsourcing.utils import Environment
from sqlalchemy import Connection, Engine, delete, select, update

from projections.decoder import StoredEvent, StoredRow, read_shard
from projections.tables import projection_tracking

if TYPE_CHECKING:
    from projections.runner import StopSignal

log = structlog.get_logger("oneseal.projector")

SHARD_ROW = re.compile(r"^(?P<name>.+)#(?P<k>\d+)/(?P<n>\d+):(?P<start>\d+)-(?P<end>\d+)$")


class ShardableProjection(Protocol):
    """A projection that can be split by aggregate (see the module's docstring): it plans a batch (its
    rows read once, the events applied in memory) apart from writing it."""

    name: str

    def decode_rows(self, rows: list[StoredRow]) -> list[StoredEvent]: ...

    def plan_batch(self, conn: Connection, events: list[StoredEvent]) -> Any: ...

    def write_batch(self, conn: Connection, changes: Any) -> None: ...


def shardable(projection: object) -> bool:
    return all(hasattr(projection, m) for m in ("decode_rows", "plan_batch", "write_batch"))


@dataclass(frozen=True)
class Shard:
    tracking_name: str
    k: int
    n: int
    start: int
    end: int
    position: int


class ShardFailed(RuntimeError):
    """A shard process stopped on an error: its batch rolled back, the catch-up resumes at the next start."""

    code = "PROJECTION_SHARD_FAILED"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code:
            self.code = code


def pending(engine: Engine, name: str) -> list[Shard]:
    """The shards of a cut-off catch-up of projection ``name`` (none when there is nothing to resume)."""
    with engine.connect() as conn:
        return pending_in(conn, name)


def forget(conn: Connection, name: str) -> None:
    """Delete the shard rows of projection ``name`` (its read model is being dropped)."""
    conn.execute(delete(projection_tracking).where(projection_tracking.c.name.like(f"{name}#%")))


def plan(engine: Engine, name: str, application_name: str, start: int, end: int, shards: int) -> list[Shard]:
    """Record the shards of a new catch-up from ``start`` to ``end``."""
    made = [Shard(f"{name}#{k}/{shards}:{start}-{end}", k, shards, start, end, start) for k in range(shards)]
    with engine.begin() as conn:
        conn.execute(
            projection_tracking.insert(),
            [{"name": s.tracking_name, "application_name": application_name, "notification_id": start} for s in made],
        )
    return made


def run(
    app: Any,
    engine: Engine,
    make_projection: Callable[[], ShardableProjection],
    shards: list[Shard],
    batch_size: int,
    on_progress: Callable[[int, int], None] | None = None,
    stop: StopSignal | None = None,
    *,
    inline: bool = False,
) -> bool:
    """Run the shards to their end in one process each, then move the projection's position to the end
    and forget the shards, in one transaction. False when ``stop`` was set first (the shards stay, to be
    resumed); raises ShardFailed when a shard stopped on an error (likewise). ``inline``: one shard after
    the other in this process (a reader finishing a cut-off catch-up: it never forks)."""
    name = make_projection().name
    start, end = shards[0].start, shards[0].end
    if inline:
        for s in shards:
            if s.position < s.end:
                project_shard(s, app.recorder, engine, make_projection(), batch_size, contextlib.nullcontext())
        _merge(engine, name, shards)
        return True
    url = engine.url.render_as_string(hide_password=False)
    # Forked: the parent's modules, no re-import; each child opens its own connections.
    ctx = multiprocessing.get_context("fork")
    lock = ctx.Lock()
    errors: Any = ctx.Queue()
    procs = [
        ctx.Process(
            target=_shard_main,
            args=(s, app, url, make_projection, batch_size, lock, errors),
            name=f"projector-{name}-shard-{s.k}",
            daemon=True,
        )
        for s in shards
        if s.position < s.end
    ]
    log.info("projector.sharded_catch_up", projection=name, shards=len(shards), start=start, end=end)
    began = time.monotonic()
    for p in procs:
        p.start()
    stopped = False
    try:
        while any(p.is_alive() for p in procs):
            if stop is not None and stop.is_set():
                stopped = True
                break
            if any(p.exitcode not in (None, 0) for p in procs):
                break  # one failed: stop the others, its batch rolled back
            wait([p.sentinel for p in procs if p.is_alive()], timeout=0.2)
            if on_progress is not None:
                on_progress(min(s.position for s in pending(engine, name)), end)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()
    if stopped:
        log.info("projector.sharded_catch_up_stopped", projection=name, resumable=True)
        return False
    failed = [p for p in procs if p.exitcode != 0]
    if any(p.exitcode == -signal.SIGINT for p in failed):
        raise KeyboardInterrupt  # Ctrl-C reached the whole process group: the shards stay, to be resumed
    if failed and all(p.exitcode == -signal.SIGTERM for p in failed):
        log.info("projector.sharded_catch_up_stopped", projection=name, resumable=True)
        return False  # a supervisor stopping the process group: resumed at the next start
    if failed:
        try:
            _k, code, message = errors.get(timeout=1)
        except queue.Empty:
            code, message = ShardFailed.code, f"投影「{name}」的分片进程意外退出（{failed[0].exitcode}）"
        raise ShardFailed(f"{message}（分片追赶已中断，下次启动时从断点继续）", code)
    _merge(engine, name, shards)
    log.info("projector.sharded_catch_up_done", projection=name, events=end - start,
             seconds=round(time.monotonic() - began, 2))  # fmt: skip
    if on_progress is not None:
        on_progress(end, end)
    return True


def _merge(engine: Engine, name: str, shards: list[Shard]) -> None:
    from projections.runner import TrackingConflict

    start, end = shards[0].start, shards[0].end
    with engine.begin() as conn:
        behind = [s.tracking_name for s in pending_in(conn, name) if s.position != end]
        if behind:
            raise ShardFailed(f"投影「{name}」的分片未全部完成：{'、'.join(behind)}")
        moved = conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == name, projection_tracking.c.notification_id == start)
            .values(notification_id=end)
        ).rowcount
        if moved != 1:
            raise TrackingConflict(f"投影「{name}」的位置已被其他进程推进（期望 {start}），分片结果未合并")
        forget(conn, name)


def pending_in(conn: Connection, name: str) -> list[Shard]:
    rows = conn.execute(
        select(projection_tracking.c.name, projection_tracking.c.notification_id).where(
            projection_tracking.c.name.like(f"{name}#%")
        )
    ).all()
    shards = []
    for tracking_name, position in rows:
        m = SHARD_ROW.match(tracking_name)
        if m and m["name"] == name:
            shards.append(Shard(tracking_name, int(m["k"]), int(m["n"]), int(m["start"]), int(m["end"]), int(position)))
    return sorted(shards, key=lambda s: s.k)


def _shard_main(
    shard: Shard,
    app: Any,
    url: str,
    make_projection: Callable[[], ShardableProjection],
    batch_size: int,
    lock: Any,
    errors: Any,
) -> None:
    """One shard, in its own (forked) process: its own connections, never the parent's."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handlers only set the parent's flag
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    gc.disable()  # short-lived containers only, freed by reference counting (as in the runner's batches)
    try:
        from projections.runner import make_engine

        # A recorder of its own; the parent made the tables (two shards' CREATE TABLE IF NOT EXISTS at once
        # collide in PostgreSQL's catalogue: "tuple concurrently updated").
        recorder = app.construct_factory(
            Environment(app.name, {**app.env, "CREATE_TABLE": "no"})
        ).application_recorder()
        engine = make_engine(url)
        # SQLite has one writer: the shards take turns to write. PostgreSQL writes them side by side (their
        # rows are disjoint; the shared counters are upserted in key order, so they wait, never deadlock).
        turns = lock if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        project_shard(shard, recorder, engine, make_projection(), batch_size, turns)
        engine.dispose()
    except BaseException as e:  # reported to the parent, which raises it; this batch rolled back
        errors.put((shard.k, getattr(e, "code", ShardFailed.code), str(e) or type(e).__name__))
        raise SystemExit(1) from None


def project_shard(
    shard: Shard, recorder: Any, engine: Engine, projection: ShardableProjection, batch_size: int, lock: Any
) -> None:
    """Apply a shard's events from its position to its end, a batch per transaction, its tracking row
    moved in the same transaction; only the write and commit hold ``lock``."""
    from projections.runner import TrackingConflict

    k, n, end, pos = shard.k, shard.n, shard.end, shard.position
    began, cpu, waited = time.monotonic(), time.process_time(), 0.0
    with engine.connect() as conn:
        while pos < end:
            new_pos = min(pos + batch_size * n, end)  # about ``batch_size`` of this shard's events
            events = projection.decode_rows(read_shard(recorder, pos, new_pos, k, n))
            with conn.begin():  # reads only this shard's rows, which only this shard writes
                changes = projection.plan_batch(conn, events)
            asked = time.monotonic()
            with lock, conn.begin():
                waited += time.monotonic() - asked
                moved = conn.execute(
                    update(projection_tracking)
                    .where(
                        projection_tracking.c.name == shard.tracking_name,
                        projection_tracking.c.notification_id == pos,
                    )
                    .values(notification_id=new_pos)
                ).rowcount
                if moved != 1:
                    raise TrackingConflict(
                        f"分片「{shard.tracking_name}」的位置已被其他进程推进（期望 {pos}），本批已回滚"
                    )
                projection.write_batch(conn, changes)
            pos = new_pos
    log.info("projector.shard_done", shard=shard.tracking_name, seconds=round(time.monotonic() - began, 2),
             cpu=round(time.process_time() - cpu, 2), lock_wait=round(waited, 2))  # fmt: skip


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies, so no shard outlives a killed projector."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
