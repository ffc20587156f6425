"""The one place that wires settings, the event store, the read models and the Temporal client.

Every process (CLI command, worker, projector, the web app) builds one ``Bootstrap`` and takes its
services from it; each piece of infrastructure is opened once, on first use, and its failures
become typed errors (``services.errors``) with the documented Chinese message and exit code.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.errors import DataDirEmpty, ReadModelUnreadable, StoreUnreachable, TemporalUnreachable
from services.settings import Settings

# The SDKs, the store's application and the projections are imported where they are first used: a CLI
# command that only parses its arguments, reads the read models or asks `oneseal status` must not pay
# for the Temporal client (~0.25 s of CPU), SQLAlchemy or the aggregates it never touches.
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from temporalio.client import Client
    from temporalio.runtime import Runtime
    from temporalio.service import TLSConfig

    from domain.cases.application import CaseApplication
    from services.auth import CaseAccess
    from services.calendar import CalendarService
    from services.cases import CaseService
    from services.directory import DirectoryService
    from services.identity import IdentityService
    from services.imports import ImportService
    from services.parallel import ParallelService
    from services.projections import ProjectionService
    from services.reports import ReportService
    from services.routing import RoutingService
    from services.scenarios import ScenarioService
    from services.transfer import TransferService
    from services.transfer_reports import TransferReportService


class Bootstrap:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        client: Client | None = None,
        before_connect: Callable[[], None] | None = None,
    ) -> None:
        """``before_connect`` runs once, just before the Temporal client is made (the CLI sets the SDK's
        default runtime there): a process that never talks to Temporal never starts the SDK's runtime."""
        self.settings = settings or Settings.from_env()
        self._client = client
        self._before_connect = before_connect

    # ---- infrastructure -----------------------------------------------------------------------

    def require_data(self) -> None:
        """Readers never create an empty store: they say which directory they looked in."""
        s = self.settings
        if s.event_store == "sqlite" and not Path(s.event_store_url).exists():
            raise DataDirEmpty(
                f"数据目录 {s.data_dir} 中还没有数据（没有 {Path(s.event_store_url).name}）："
                "请先运行 make run（或 oneseal up），或用 ONESEAL_DATA_DIR 指定数据目录",
                data_dir=str(s.data_dir),
            )

    @cached_property
    def store(self) -> CaseApplication:
        """The event store and its command handlers (one per process: its pool closes with it)."""
        from domain.cases.application import CaseApplication

        s = self.settings
        if s.event_store == "sqlite":
            Path(s.event_store_url).parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            try:
                return CaseApplication(env=s.event_store_env())
            except Exception as e:  # psycopg / sqlite errors at connect time
                # Processes starting together on a new PostgreSQL database race to create its tables
                # (CREATE TABLE IF NOT EXISTS is not atomic there): the loser tries again and finds them.
                if "already exists" in str(e) and attempt < 4:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise StoreUnreachable(f"无法打开事件库（{s.event_store}）：{e}") from None
        raise AssertionError("unreachable")

    def head(self) -> int:
        """The newest notification id in the store."""
        try:
            return int(self.store.recorder.max_notification_id() or 0)
        except Exception as e:
            raise StoreUnreachable(f"无法读取事件库（{self.settings.event_store}）：{e}") from None

    @cached_property
    def read_models(self) -> Engine:
        from sqlalchemy.exc import DatabaseError, OperationalError

        from domain.cases.application import CaseApplication
        from projections.runner import ReadModelOutdated, ensure_schema, make_engine
        from services.projections import PROJECTIONS

        engine = make_engine(self.settings.read_model_url)
        try:
            for make in PROJECTIONS.values():
                ensure_schema(engine, make(), CaseApplication.name)
        except ReadModelOutdated as e:
            raise ReadModelUnreadable(str(e)) from None
        except (OperationalError, DatabaseError) as e:
            raise ReadModelUnreadable(
                f"无法读取读模型（{_where(self.settings.read_model_url)}）：{_first_line(e)}；"
                "读模型可由事件重建：oneseal projections rebuild"
            ) from None
        return engine

    async def temporal(self) -> Client:
        if self._client is None:
            from temporalio.client import Client
            from temporalio.service import RPCError

            if self._before_connect is not None:
                self._before_connect()
            target = self.settings.temporal_target
            try:
                self._client = await asyncio.wait_for(
                    Client.connect(target, **temporal_connect_options(self.settings)), timeout=10
                )
            except (RuntimeError, RPCError, TimeoutError, OSError):
                raise TemporalUnreachable(
                    f"无法连接 Temporal（{target}）：请先在另一个终端运行 make run（或 oneseal up）", target=target
                ) from None
        return self._client

    # ---- services -----------------------------------------------------------------------------

    @cached_property
    def cases(self) -> CaseService:
        from services.cases import CaseService

        return CaseService(self)

    @cached_property
    def routing(self) -> RoutingService:
        from services.routing import RoutingService

        return RoutingService(self)

    @cached_property
    def calendar(self) -> CalendarService:
        from services.calendar import CalendarService

        return CalendarService(self)

    @cached_property
    def directory(self) -> DirectoryService:
        from services.directory import DirectoryService

        return DirectoryService(self)

    @cached_property
    def reports(self) -> ReportService:
        from services.reports import ReportService

        return ReportService(self)

    @cached_property
    def transfer_reports(self) -> TransferReportService:
        from services.transfer_reports import TransferReportService

        return TransferReportService(self)

    @cached_property
    def imports(self) -> ImportService:
        from services.imports import ImportService

        return ImportService(self)

    @cached_property
    def scenarios(self) -> ScenarioService:
        from services.scenarios import ScenarioService

        return ScenarioService(self)

    @cached_property
    def parallel(self) -> ParallelService:
        from services.parallel import ParallelService

        return ParallelService(self)

    @cached_property
    def transfer(self) -> TransferService:
        from services.transfer import TransferService

        return TransferService(self)

    @cached_property
    def identity(self) -> IdentityService:
        from services.identity import IdentityService

        return IdentityService(self)

    @cached_property
    def access(self) -> CaseAccess:
        from services.auth import CaseAccess

        return CaseAccess(self)

    @cached_property
    def projections(self) -> ProjectionService:
        from services.projections import ProjectionService

        return ProjectionService(self)


_RUNTIMES: dict[str, Runtime] = {}


def temporal_runtime(settings: Settings) -> Runtime | None:
    """The process's Temporal runtime exporting the SDK's own metrics (ONESEAL_TEMPORAL_METRICS_PORT), or
    None for the default runtime. Made once per process: the exporter binds its port."""
    if not settings.temporal_metrics_port:
        return None
    from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

    address = f"{settings.metrics_host}:{settings.temporal_metrics_port}"
    if address not in _RUNTIMES:
        _RUNTIMES[address] = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    return _RUNTIMES[address]


def temporal_tls(settings: Settings) -> TLSConfig | bool:
    """TLS towards an external cluster or Temporal Cloud: the server's CA, a client certificate (mTLS)."""
    if not settings.temporal_tls:
        return False
    from temporalio.service import TLSConfig

    def read(path: str) -> bytes | None:
        return Path(path).read_bytes() if path else None

    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_ca),
        client_cert=read(settings.temporal_tls_cert),
        client_private_key=read(settings.temporal_tls_key),
        domain=settings.temporal_tls_server_name or None,
    )


def temporal_connect_options(settings: Settings) -> dict[str, Any]:
    """Everything ``Client.connect`` takes from the settings besides the address (every process uses it)."""
    from workflows.converter import DATA_CONVERTER

    options: dict[str, Any] = {
        "namespace": settings.temporal_namespace,
        "tls": temporal_tls(settings),
        "data_converter": DATA_CONVERTER,  # type hints resolved once per dataclass (workflows/converter.py)
    }
    if settings.temporal_api_key:
        options["api_key"] = settings.temporal_api_key
    runtime = temporal_runtime(settings)
    if runtime is not None:
        options["runtime"] = runtime
    return options


def _where(url: str) -> str:
    return url.split("@")[-1].removeprefix("sqlite:///")


def _first_line(e: Any) -> str:
    return str(getattr(e, "orig", e)).splitlines()[0]
