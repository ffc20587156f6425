"""Liveness and readiness of a OneSeal process (the web app's /healthz and /readyz, `oneseal health`).

- ``alive()``: the process answers. Nothing outside it is touched, so a dependency that is down
  never gets a healthy process restarted.
- ``ready()``: Temporal answers its health check, the event store answers, and every read model
  is close enough to the store: at most ``ready_max_lag_events`` events behind, and the oldest
  event not yet projected at most ``ready_max_lag_seconds`` old. Each check has a stable code and a
  Chinese message for staff.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from typing import TYPE_CHECKING, Any

import orjson

from domain.errors import DomainError
from projections.runner import tracking_position

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

_STARTED = time.time()


@dataclass(frozen=True)
class ProjectionLag:
    name: str
    position: int
    head: int
    lag_seconds: float  # age of the oldest event not yet projected; 0 when caught up

    @property
    def lag_events(self) -> int:
        return max(0, self.head - self.position)


@dataclass(frozen=True)
class Check:
    name: str  # temporal | event_store | read_models
    ok: bool
    code: str  # OK or the failure's stable code
    message: str  # Chinese, for staff and operators
    seconds: float = 0.0


@dataclass(frozen=True)
class Readiness:
    ready: bool
    checks: list[Check]
    projections: list[ProjectionLag] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ready": self.ready,
            "checks": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in self.checks},
            "projections": [{**asdict(p), "lag_events": p.lag_events} for p in self.projections],
        }


def alive() -> dict[str, Any]:
    """The process is up: its pid, version and how long it has run."""
    try:
        version = metadata.version("oneseal")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return {"alive": True, "pid": os.getpid(), "version": version, "uptime_seconds": round(time.time() - _STARTED, 1)}


def _event_time(notification: Any) -> datetime | None:
    """When an event was recorded (the store's own ``timestamp`` in its JSON state)."""
    try:
        raw = orjson.loads(notification.state)["timestamp"]
        value = raw.get("_data_") if isinstance(raw, dict) else raw
        at = datetime.fromisoformat(str(value))
    except (KeyError, ValueError, TypeError, orjson.JSONDecodeError):
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def projection_lags(boot: Bootstrap) -> list[ProjectionLag]:
    """Each read model's position against the store's head, in events and in seconds."""
    from services.projections import PROJECTIONS

    head = boot.head()
    engine = boot.read_models
    lags = []
    now = datetime.now(UTC)
    for name in PROJECTIONS:
        position = tracking_position(engine, name)
        seconds = 0.0
        if position < head:
            first = boot.store.recorder.select_notifications(start=position, limit=1, inclusive_of_start=False)
            at = _event_time(first[0]) if first else None
            seconds = max(0.0, (now - at).total_seconds()) if at else 0.0
        lags.append(ProjectionLag(name, position, head, round(seconds, 3)))
    return lags


async def _timed(name: str, fn: Any, timeout: float) -> tuple[Check, Any]:
    t = time.perf_counter()
    try:
        value = await asyncio.wait_for(fn(), timeout)
    except TimeoutError:
        return Check(name, False, "TIMEOUT", f"{timeout:g} 秒内无应答", round(time.perf_counter() - t, 3)), None
    except DomainError as e:
        return Check(name, False, e.code, e.message, round(time.perf_counter() - t, 3)), None
    except Exception as e:
        return Check(name, False, "ERROR", str(e).splitlines()[0][:300], round(time.perf_counter() - t, 3)), None
    return Check(name, True, "OK", "正常", round(time.perf_counter() - t, 3)), value


async def ready(
    boot: Bootstrap, max_lag_events: int | None = None, max_lag_seconds: float | None = None, timeout: float = 3.0
) -> Readiness:
    """Temporal reachable, store reachable, read models within the lag thresholds (the settings' by default)."""
    s = boot.settings
    max_events = s.ready_max_lag_events if max_lag_events is None else max_lag_events
    max_seconds = s.ready_max_lag_seconds if max_lag_seconds is None else max_lag_seconds

    async def temporal() -> None:
        client = await boot.temporal()
        if not await client.service_client.check_health(timeout=timedelta(seconds=timeout)):
            raise RuntimeError("Temporal 健康检查未通过")

    async def store() -> int:
        boot.require_data()
        return await asyncio.to_thread(boot.head)

    async def lags() -> list[ProjectionLag]:
        return await asyncio.to_thread(projection_lags, boot)

    (t_check, _), (s_check, _) = await asyncio.gather(
        _timed("temporal", temporal, timeout), _timed("event_store", store, timeout)
    )
    checks = [t_check, s_check]
    found: list[ProjectionLag] = []
    if s_check.ok:
        r_check, value = await _timed("read_models", lags, timeout)
        if r_check.ok:
            found = value
            behind = [p for p in found if p.lag_events > max_events or p.lag_seconds > max_seconds]
            if behind:
                text = "；".join(f"{p.name} 落后 {p.lag_events} 条事件、{p.lag_seconds:g} 秒" for p in behind)
                r_check = Check(
                    "read_models", False, "READ_MODEL_LAGGING",
                    f"读模型落后于事件库（{text}；上限 {max_events} 条、{max_seconds:g} 秒）：投影进程是否在运行？",
                    r_check.seconds,
                )  # fmt: skip
        checks.append(r_check)
    else:
        checks.append(Check("read_models", False, "EVENT_STORE_DOWN", "事件库不可用，无法计算读模型滞后"))
    return Readiness(all(c.ok for c in checks), checks, found)
