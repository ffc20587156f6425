"""The read models' state against the store: status, rebuild, and catching up before a report."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from domain.errors import DomainError, InvalidValue
from projections.cases import CasesProjection
from projections.projects import ProjectsProjection
from projections.runner import (
    Projection,
    ProjectionBusy,
    ProjectionRunner,
    ReadModelTimeout,
    lease,
    tracking_position,
)
from projections.transfer import TransferProjection
from services.errors import READ_MODEL_REBUILD_HINT, ReadModelStale, ReadModelUnreadable

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from services.bootstrap import Bootstrap

# Every read model the projector keeps up to date, by name (each with its own tracking position and lease).
PROJECTIONS: dict[str, Callable[[], Projection]] = {
    CasesProjection.name: CasesProjection,
    ProjectsProjection.name: ProjectsProjection,
    TransferProjection.name: TransferProjection,
}


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


class ProjectionService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot
        self._runners: dict[str, ProjectionRunner] = {}  # ensure_fresh's, per read model (see _fresh_runner)

    def status(self) -> list[ProjectionStatus]:
        self.boot.require_data()
        self.check_file()
        head = self.boot.head()
        engine = self.boot.read_models
        return [ProjectionStatus(name, tracking_position(engine, name), head) for name in PROJECTIONS]

    def runner(self, name: str, *, shards: int | None = None) -> ProjectionRunner:
        """A runner of read model ``name``; a long catch-up (a rebuild) runs in ``projector_shards`` processes."""
        if name not in PROJECTIONS:
            raise InvalidValue(f"未知的投影「{name}」，可选：{'、'.join(PROJECTIONS)}", field="name")
        return self._runner(PROJECTIONS[name], self.boot.read_models, shards)

    def _runner(self, make: Callable[[], Projection], engine: Engine, shards: int | None = None) -> ProjectionRunner:
        s = self.boot.settings
        return ProjectionRunner(
            self.boot.store,
            engine,
            make(),
            shards=s.projector_shards if shards is None else shards,
            shard_threshold=s.projector_shard_threshold,
        )

    def _fresh_runner(self, name: str, engine: Engine) -> ProjectionRunner:
        """The runner ensure_fresh catches up with, made once per read model and engine: making one checks the
        schema (CREATE TABLE IF NOT EXISTS and the fingerprint), which the weekly snapshots, each bringing the
        case read model to the head, paid every time."""
        runner = self._runners.get(name)
        if runner is None or runner.engine is not engine:
            # One process: a reader (a page, a report) does not fork; a projector that is far behind does.
            runner = self._runners[name] = self.runner(name, shards=1)
        return runner

    def check_file(self) -> None:
        """Refuse with READ_MODEL_UNREADABLE when SQLite calls the read-model file malformed."""
        from projections.integrity import corruption

        why = corruption(self.boot.settings.read_model_url)
        if why is not None:
            raise ReadModelUnreadable(f"读模型文件已损坏（{why}）；{READ_MODEL_REBUILD_HINT}", reason=why)

    def repair(self) -> tuple[str, Path] | None:
        """A corrupt SQLite read model is moved aside (kept for a post-mortem) so that it can be rebuilt
        from the events; returns (why, where it went), or None when the file reads well. Holds every
        projection's lease meanwhile: with a projector running, it refuses (the projector does this itself)."""
        from projections.integrity import corruption, repair
        from projections.runner import make_engine

        url = self.boot.settings.read_model_url
        if corruption(url) is None:
            return None
        engine = make_engine(url)
        try:
            with ExitStack() as held:
                for name in PROJECTIONS:
                    try:
                        held.enter_context(lease(engine, name))
                    except ProjectionBusy as e:
                        raise DomainError(
                            f"{e}：读模型文件已损坏，投影进程会在重启时自动移开并重建它（或先停止它再运行本命令）",
                            code=e.code,
                        ) from None
                found = repair(url)
        finally:
            engine.dispose()
        cached = self.boot.__dict__.pop("read_models", None)  # reopen on the new file
        if cached is not None:
            cached.dispose()
        return found

    def rebuild(self, name: str, on_progress: Callable[[int, int], None] | None = None) -> ProjectionStatus:
        """Drop the read model and replay it from the first event (the projector must not run meanwhile)."""
        self.boot.require_data()
        runner = self.runner(name)
        try:
            held = lease(runner.engine, runner.name)
            held.__enter__()
        except ProjectionBusy as e:
            raise DomainError(
                f"{e}：重建前请先停止投影进程（oneseal down），或用 --into URL 建到另一个库（不停机）", code=e.code
            ) from None
        try:
            runner.rebuild(on_progress)
        finally:
            held.__exit__(None, None, None)
        return ProjectionStatus(name, runner.position(), runner.head())

    def ensure_fresh(self, name: str | None = None, timeout: float | None = None) -> ProjectionStatus:
        """Make sure the read model has every event the store had when asked: catch up here if no
        projector runs, wait for it if one does, and refuse with the position when it does not arrive.
        Without a name, every registered read model (the answer is the least advanced)."""
        if name is None:
            statuses = [self.ensure_fresh(n, timeout) for n in PROJECTIONS]
            return min(statuses, key=lambda s: s.position)
        head = self.boot.head()
        engine = self.boot.read_models
        position = tracking_position(engine, name)
        if position >= head:
            return ProjectionStatus(name, position, head)
        runner = self._fresh_runner(name, engine)
        try:
            with lease(engine, name):
                runner.catch_up(until=head)
        except ProjectionBusy:
            from projections.runner import wait_for_position

            wait = timeout if timeout is not None else float(self.boot.settings.read_your_writes_timeout) * 3
            try:
                wait_for_position(engine, name, head, wait)
            except ReadModelTimeout:
                position = tracking_position(engine, name)
                raise ReadModelStale(
                    f"读模型落后于事件库（位置 {position} / {head}，差 {head - position} 条事件），"
                    "投影进程正在追赶，请稍后再试；报表不以过时的数字出具",
                    position=position,
                    head=head,
                ) from None
        return ProjectionStatus(name, tracking_position(engine, name), head)

    def rebuild_into(
        self, url: str, on_progress: Callable[[str, int, int], None] | None = None
    ) -> list[ProjectionStatus]:
        """Zero-downtime rebuild: build every read model from the events into ANOTHER database (``url``)
        while the live one keeps serving, up to the store's head; run again, it continues from where it
        stopped. Then a projector on ``url`` keeps it current and the readers switch to it
        (docs/deployment.md). Refuses when a projector already holds that database's leases."""
        from projections.runner import make_engine

        self.boot.require_data()
        engine = make_engine(url)
        done = []
        try:
            for name, make in PROJECTIONS.items():
                runner = self._runner(make, engine)

                def progress(position: int, head: int, name: str = name) -> None:
                    if on_progress is not None:
                        on_progress(name, position, head)

                try:
                    with lease(engine, name):
                        runner.catch_up(progress)
                except ProjectionBusy as e:
                    raise DomainError(f"{e}：目标库已有投影进程在写，不能在其上重建", code=e.code) from None
                done.append(ProjectionStatus(name, runner.position(), runner.head()))
        finally:
            engine.dispose()
        return done
