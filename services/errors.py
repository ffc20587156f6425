"""Failures of the infrastructure, as typed errors with stable codes and Chinese messages for staff."""

from __future__ import annotations

from domain.errors import DomainError


class TemporalUnreachable(DomainError):
    code = "TEMPORAL_UNREACHABLE"


class StoreUnreachable(DomainError):
    code = "STORE_UNREACHABLE"


class ReadModelUnreadable(DomainError):
    code = "READ_MODEL_UNREADABLE"


class ReadModelStale(DomainError):
    code = "READ_MODEL_STALE"


class DataDirEmpty(DomainError):
    code = "DATA_DIR_EMPTY"


class CaseRegisterTimeout(DomainError):
    code = "CASE_REGISTER_TIMEOUT"


class ScenarioRefused(DomainError):
    code = "SCENARIO_REFUSED"


class ConfigInvalid(DomainError):
    code = "CONFIG_INVALID"


READ_MODEL_REBUILD_HINT = (
    "读模型可由事件重建：oneseal projections rebuild（投影进程启动时也会检测并重建损坏的 SQLite 读模型）"
)


def infra_error(exc: BaseException) -> DomainError | None:
    """A lost connection or an unreadable database, raised deep in a library, as the documented error
    (code, Chinese message; exit code 3 in the CLI); None if ``exc`` is not one of those."""
    from eventsourcing.persistence import PersistenceError
    from sqlalchemy.exc import DBAPIError
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError
    from temporalio.service import RPCError

    if isinstance(exc, DomainError):
        return exc
    if type(exc).__name__ == "ShardFailed":  # projections.sharded: a rebuild's shard process stopped on an error
        return DomainError(str(exc), code=str(getattr(exc, "code", "PROJECTION_SHARD_FAILED")))
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    if isinstance(exc, DBAPIError):
        return ReadModelUnreadable(f"无法读取读模型：{first}；{READ_MODEL_REBUILD_HINT}")
    if isinstance(exc, PersistenceError):
        return StoreUnreachable(f"无法读写事件库：{first}")
    if isinstance(exc, RPCError | WorkflowUpdateRPCTimeoutOrCancelledError):
        return TemporalUnreachable(
            f"与 Temporal 的连接中断（{first}）：请检查 oneseal up（或 Temporal 服务）是否在运行，恢复后重试"
        )
    return None
