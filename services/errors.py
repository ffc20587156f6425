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
