"""The projection runner: follows the event store's notification log in batches.

Each batch's view rows and the tracking position are written in ONE transaction, the position
moving forward only by a conditional update (``WHERE notification_id = <where we started>``), so
a crash at any point neither loses nor double-counts an event, and a re-delivered batch rolls
back. A lease (an OS file lock on SQLite, an advisory lock on PostgreSQL) makes a second runner
of the same projection fail loudly at start.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

import structlog
from sqlalchemy import Connection, Engine, Table, create_engine, delete, event, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable

from projections.decoder import StoredEvent, as_notification, read_stored
from projections.tables import metadata, projection_schema, projection_tracking

log = structlog.get_logger("oneseal.projector")


class ProjectionError(RuntimeError):
    code = "PROJECTION_ERROR"


class ProjectionBusy(ProjectionError):
    code = "PROJECTION_BUSY"


class TrackingConflict(ProjectionError):
    """Someone else moved the position: this batch is rolled back and nothing is counted twice."""

    code = "PROJECTION_TRACKING_CONFLICT"


class ReadModelTimeout(ProjectionError):
    code = "READ_MODEL_TIMEOUT"


class ReadModelOutdated(ProjectionError):
    """The read model's tables are of another version: they are rebuilt from the events (derived data)."""

    code = "READ_MODEL_OUTDATED"


class Projection(Protocol):
    """What the runner drives: a name, its tables, a decoder and a batch apply in the runner's transaction."""

    name: str
    tables: tuple[Table, ...]

    def decode(self, notification: Any) -> StoredEvent | None: ...

    def apply_batch(self, conn: Connection, events: list[StoredEvent]) -> None: ...


class EventLog(Protocol):
    """The store's side: the notification log the projections follow."""

    name: str
    recorder: Any


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: catch-up touches random index pages
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True)


def fingerprint(projection: Projection, dialect: str) -> str:
    """Of the projection's table definitions: a change of columns or keys gives another fingerprint."""
    ddl = "\n".join(str(CreateTable(t).compile(dialect=_dialect(dialect))) for t in projection.tables)
    return hashlib.sha256(ddl.encode()).hexdigest()[:32]


def _dialect(name: str) -> Any:
    return postgresql.dialect() if name == "postgresql" else sqlite.dialect()


def ensure_schema(engine: Engine, projection: Projection, application_name: str, *, rebuild: bool = False) -> None:
    """Create the tables; if they exist in another version, drop and recreate them at position 0 when
    ``rebuild`` (the projection's own runner, which holds the lease), or refuse to read them otherwise."""
    from projections.sharded import forget

    metadata.create_all(engine, tables=[projection_tracking, projection_schema])
    wanted = fingerprint(projection, engine.dialect.name)
    with engine.connect() as conn:
        found = conn.execute(
            select(projection_schema.c.fingerprint).where(projection_schema.c.name == projection.name)
        ).scalar_one_or_none()
    if found is not None and found != wanted:
        if not rebuild:
            raise ReadModelOutdated(
                f"读模型「{projection.name}」的表结构属于另一版本：投影进程启动时会自动从事件重建，"
                "或运行 oneseal projections rebuild"
            )
        log.warning("projection.schema_changed", projection=projection.name, rebuilding=True)
        metadata.drop_all(engine, tables=list(projection.tables))
        with engine.begin() as conn:
            conn.execute(delete(projection_tracking).where(projection_tracking.c.name == projection.name))
            forget(conn, projection.name)
    elif found is None:
        # Tables from before fingerprints were kept (or none at all): start them from the events.
        metadata.drop_all(engine, tables=list(projection.tables))
        with engine.begin() as conn:
            conn.execute(delete(projection_tracking).where(projection_tracking.c.name == projection.name))
            forget(conn, projection.name)
    metadata.create_all(engine, tables=list(projection.tables))
    for table in projection.tables:  # indexes added since the tables were made (they change no fingerprint)
        for index in table.indexes:
            index.create(engine, checkfirst=True)
    ins = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    with engine.begin() as conn:
        conn.execute(
            ins(projection_tracking)
            .values(name=projection.name, application_name=application_name, notification_id=0)
            .on_conflict_do_nothing(index_elements=["name"])
        )
        conn.execute(
            ins(projection_schema)
            .values(name=projection.name, fingerprint=wanted)
            .on_conflict_do_update(index_elements=["name"], set_={"fingerprint": wanted})
        )


def tracking_position(conn: Connection | Engine, name: str) -> int:
    stmt = select(projection_tracking.c.notification_id).where(projection_tracking.c.name == name)
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return int(c.execute(stmt).scalar_one_or_none() or 0)
    return int(conn.execute(stmt).scalar_one_or_none() or 0)


@contextmanager
def lease(engine: Engine, name: str) -> Iterator[None]:
    """Hold the right to run projection ``name``; released when the process dies, however it dies."""
    if engine.dialect.name == "sqlite":
        db = engine.url.database or "read_models.db"
        lock_file: IO[str] = Path(f"{db}.{name}.lock").open("w")  # noqa: SIM115 (held for the lease)
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise ProjectionBusy(f"投影「{name}」已有另一个进程在运行（{db}）") from None
        try:
            yield
        finally:
            lock_file.close()
        return
    key = zlib.crc32(f"oneseal-projection/{name}".encode())
    with engine.connect() as conn:
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            raise ProjectionBusy(f"投影「{name}」已有另一个进程在运行（PostgreSQL 咨询锁 {key}）")
        conn.commit()
        try:
            yield
        finally:
            try:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
            except OperationalError:
                pass  # the server ended the session (e.g. a restart): the advisory lock ended with it


@contextmanager
def waiting_lease(engine: Engine, name: str, stop: StopSignal, poll: float = 0.5) -> Iterator[bool]:
    """A standby's lease: try every ``poll`` seconds until it is held (yields True) or ``stop`` is set
    (yields False). The holder's lease goes when its process dies (its connection or file closes), so a
    standby takes over within ``poll`` seconds of that."""
    waiting_since: float | None = None
    while not stop.is_set():
        held = lease(engine, name)
        try:
            held.__enter__()
        except ProjectionBusy:
            if waiting_since is None:
                waiting_since = time.monotonic()
                log.info("projector.standby", projection=name, poll=poll)
            stop.wait(poll)
            continue
        if waiting_since is not None:
            log.info("projector.lease_taken", projection=name, waited=round(time.monotonic() - waiting_since, 2))
        try:
            yield True
        finally:
            held.__exit__(None, None, None)
        return
    yield False


class StopSignal(Protocol):
    """What run_forever needs of its stop signal: threading.Event, or a flag that signal handlers may set."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


class ProjectionRunner:
    """Drives one projection. With ``shards`` > 1, a catch-up of at least ``shard_threshold`` events of a
    projection that can be split by aggregate runs in that many processes (projections/sharded.py)."""

    def __init__(
        self,
        app: EventLog,
        engine: Engine,
        projection: Projection,
        batch_size: int = 5000,
        *,
        shards: int = 1,
        shard_threshold: int = 20_000,
    ) -> None:
        self.app = app
        self.engine = engine
        self.projection = projection
        self.batch_size = batch_size
        self.shards = shards
        self.shard_threshold = shard_threshold
        self._resumed = False  # a cut-off sharded catch-up is looked for once, before the first step
        self.stop: StopSignal | None = None  # the projector's: a sharded catch-up stops with it (run_all)
        ensure_schema(engine, self.projection, app.name, rebuild=True)

    @property
    def name(self) -> str:
        return self.projection.name

    def position(self) -> int:
        return tracking_position(self.engine, self.name)

    def head(self) -> int:
        return int(self.app.recorder.max_notification_id() or 0)

    def step(self, until: int | None = None) -> int:
        """Project the next batch (not past ``until``); return how many notifications it covered."""
        if not self._resumed:
            covered = self.resume_shards()
            if not self._resumed:
                return 0  # stopped before the shards were done: nothing may step past them
            if covered:
                return covered
        start = self.position()
        limit = self.batch_size if until is None else min(self.batch_size, until - start)
        if limit <= 0:
            return 0
        with _gc_paused():  # a batch makes ~30 short-lived containers per event: no cycles to look for
            return self._step(start, limit)

    def _step(self, start: int, limit: int) -> int:
        rows = read_stored(self.app.recorder, start, limit)  # one SQL query per batch
        if not rows:
            return 0
        decode_rows = getattr(self.projection, "decode_rows", None)
        if decode_rows is not None:
            events = decode_rows(rows)
        else:  # a projection that decodes one library notification at a time
            decode = self.projection.decode
            events = [e for e in (decode(as_notification(r)) for r in rows) if e is not None]
        end = rows[-1][0]
        with self.engine.begin() as conn:
            # Position first: a concurrent or re-delivered batch fails here, before it writes anything.
            moved = conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.name == self.name, projection_tracking.c.notification_id == start)
                .values(notification_id=end)
            ).rowcount
            if moved != 1:
                raise TrackingConflict(f"投影「{self.name}」的位置已被其他进程推进（期望 {start}），本批已回滚")
            self.projection.apply_batch(conn, events)
        return len(rows)

    def resume_shards(
        self, on_progress: Callable[[int, int], None] | None = None, stop: StopSignal | None = None
    ) -> int:
        """Finish a sharded catch-up that was cut off (a crash, a kill): its shards' positions are ahead of
        the projection's, so no step may run before. Returns the notifications it covered."""
        from projections import sharded

        left = sharded.pending(self.engine, self.name)
        if left:
            log.warning("projector.resuming_shards", projection=self.name, shards=len(left), end=left[0].end)
            if not self._run_shards(left, on_progress, stop):
                return 0
        self._resumed = True
        return left[0].end - left[0].start if left else 0

    def catch_up_sharded(
        self,
        on_progress: Callable[[int, int], None] | None = None,
        until: int | None = None,
        stop: StopSignal | None = None,
    ) -> int:
        """When at least ``shard_threshold`` events behind: catch up to ``until`` (or the head) in
        ``shards`` processes, and return how many notifications that covered; otherwise 0 (step on)."""
        from projections import sharded

        covered = self.resume_shards(on_progress, stop) if not self._resumed else 0
        if not self._resumed or self.shards < 2 or not sharded.shardable(self.projection):
            return covered
        start = self.position()
        end = until if until is not None else self.head()
        if end - start < self.shard_threshold:
            return covered
        plan = sharded.plan(self.engine, self.name, self.app.name, start, end, self.shards)
        # From nothing (a rebuild, a new read model): the shards take turns to write on SQLite, so the writes
        # are what limits them; the secondary indexes are built once at the end instead of row by row (about
        # a fifth of the time, docs/performance.md). Cut off, they are made again by the next runner's
        # ensure_schema, before it resumes.
        indexes = [i for t in self.projection.tables for i in t.indexes] if start == 0 else []
        for index in indexes:
            index.drop(self.engine, checkfirst=True)
        if not self._run_shards(plan, on_progress, stop):
            return covered
        began = time.monotonic()
        for index in indexes:
            index.create(self.engine, checkfirst=True)
        if indexes:
            log.info("projector.indexes_built", projection=self.name, seconds=round(time.monotonic() - began, 2))
        return covered + end - start

    def _run_shards(
        self, shards: list[Any], on_progress: Callable[[int, int], None] | None, stop: StopSignal | None
    ) -> bool:
        """Until the shards are merged no step may run (it would apply their events again): a catch-up
        stopped or failed here is resumed before the next step."""
        from projections import sharded

        self._resumed = False
        done = sharded.run(self.app, self.engine, type(self.projection), shards, self.batch_size,  # type: ignore[arg-type]
                           on_progress, stop or self.stop, inline=self.shards < 2)  # fmt: skip
        self._resumed = done
        return done

    def catch_up(self, on_progress: Callable[[int, int], None] | None = None, until: int | None = None) -> int:
        total = self.catch_up_sharded(on_progress, until)
        while n := self.step(until):
            total += n
            if on_progress:
                on_progress(self.position(), self.head())
        return total

    def run_forever(self, stop: StopSignal, idle_sleep: float = 0.05) -> None:
        run_all([self], stop, idle_sleep)

    def rebuild(self, on_progress: Callable[[int, int], None] | None = None) -> int:
        """Drop the read model, replay it from position zero."""
        from projections.sharded import forget

        metadata.drop_all(self.engine, tables=list(self.projection.tables))
        with self.engine.begin() as conn:
            conn.execute(
                update(projection_tracking).where(projection_tracking.c.name == self.name).values(notification_id=0)
            )
            forget(conn, self.name)  # a cut-off sharded catch-up's positions belong to the dropped tables
        self._resumed = True
        ensure_schema(self.engine, self.projection, self.app.name, rebuild=True)
        return self.catch_up(on_progress)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for one batch (a quarter of catch-up's CPU went to collections
    that found nothing: the batch's objects are freed by reference counting when it ends)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def wait_for_position(engine: Engine, name: str, notification_id: int, timeout: float = 10.0) -> None:
    """Read-your-writes: return once projection ``name`` has passed ``notification_id``."""
    deadline = time.monotonic() + timeout
    delay = 0.01  # short and capped low: a step's answer waits on it (one indexed read per poll)
    while tracking_position(engine, name) < notification_id:
        if time.monotonic() > deadline:
            raise ReadModelTimeout(
                f"读模型在 {timeout:.0f} 秒内未更新到第 {notification_id} 号事件：投影进程是否在运行？（oneseal project）"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def run_all(runners: list[ProjectionRunner], stop: StopSignal, idle_sleep: float = 0.05) -> None:
    """Poll the log for every projection in turn (SQLite has no subscription). When all are caught up, watch
    the store's newest notification id every ``idle_sleep`` seconds (one indexed query, where a round of
    steps costs two per projection) and step them again as soon as it passes the least advanced: an event
    is picked up within ``idle_sleep`` of its commit at a fraction of the idle CPU (docs/performance.md)."""
    for r in runners:
        log.info("projector.started", projection=r.name, position=r.position())
    for r in runners:  # far behind (a new or rebuilt read model): every core at once, where it can be split
        r.stop = stop
        if not stop.is_set():
            r.catch_up_sharded()
    while not stop.is_set():
        moved = 0
        for r in runners:
            try:
                moved += r.step()
            except TrackingConflict as e:
                log.error("projector.conflict", projection=r.name, reason=str(e))
                raise
        if moved == 0 and runners:
            # Every runner found nothing after its position: an event committed since then is above the lowest.
            lowest = min(r.position() for r in runners)
            while not stop.wait(idle_sleep) and runners[0].head() <= lowest:
                pass
        elif moved == 0:
            stop.wait(idle_sleep)
    for r in runners:
        log.info("projector.stopped", projection=r.name, position=r.position())
