"""Configuration from environment variables, each with a documented default (docs/configuration.md).

The data directory is found the same way from any folder: ``ONESEAL_DATA_DIR`` if set; otherwise
``var/`` of the source checkout the package runs from (``make install`` installs it editable), so
``.venv/bin/oneseal`` run from anywhere uses the stack that ``make run`` started; otherwise (an
installed package) ``$XDG_DATA_HOME/oneseal`` (``~/.local/share/oneseal``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from domain.calendar import DayType
from domain.cases.model import TimeRules
from workflows.names import TASK_QUEUE


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


def _number(name: str, default: str, *, integer: bool = False) -> float:
    """A non-negative number, or a Chinese message naming the variable instead of a traceback."""
    raw = _env(name, default)
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if value < 0:
        kind = "非负整数" if integer else "非负数"
        raise SystemExit(f"{name} 应为{kind}，而不是「{raw}」")
    return value


def _default_shards() -> int:
    """One process per core for a long catch-up, at most 4 (SQLite writes one batch at a time)."""
    return max(1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    event_store: str  # sqlite | postgres
    event_store_url: str
    read_model_url: str
    temporal_address: str  # empty: the embedded dev server
    temporal_namespace: str
    task_queue: str
    dev_server_port: int
    dev_server_ui_port: int
    log_format: str
    read_your_writes_timeout: float = 10.0
    rules: TimeRules = field(default_factory=TimeRules)
    # Production: an external Temporal over TLS / with an API key, metrics, health (docs/deployment.md).
    temporal_tls: bool = False  # on by itself when a CA, a client certificate or an API key is given
    temporal_tls_ca: str = ""  # PEM file of the server's root CA (empty: the system's roots)
    temporal_tls_cert: str = ""  # PEM file of the client certificate (mTLS)
    temporal_tls_key: str = ""  # PEM file of the client certificate's private key
    temporal_tls_server_name: str = ""  # the name to check the server certificate against (SNI)
    temporal_api_key: str = field(default="", repr=False)  # Temporal Cloud API key (a bearer token)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0  # this process's Prometheus endpoint (worker, projector); 0: none
    temporal_metrics_port: int = 0  # the Temporal SDK's own Prometheus endpoint in this process; 0: none
    ready_max_lag_events: int = 1000  # /readyz: the read models may lag the store by at most this many events
    ready_max_lag_seconds: float = 30.0  # … and the oldest event not yet projected may be at most this old
    lease_poll: float = 0.5  # a standby projector tries the lease this often (seconds)
    projector_shards: int = 2  # processes of a far-behind catch-up or a rebuild (projections/sharded.py)
    projector_shard_threshold: int = 20_000  # … when at least this many events behind
    # Supervision by `oneseal up` (docs/configuration.md).
    stack_max_restarts: int = 5  # consecutive failed restarts of one child before up gives up
    stack_backoff: float = 1.0  # first wait before a restart; doubles per consecutive failure
    stack_backoff_max: float = 30.0
    stack_stable_after: float = 60.0  # a child that ran this long had no "consecutive" failure
    stack_stop_grace: float = 2.0  # seconds after SIGTERM before SIGKILL, per stop phase
    # The web pages and HTTP API (docs/web.md).
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_secure_cookies: bool = False  # send the session cookie over HTTPS only (behind a TLS proxy)
    session_hours: float = 8.0
    signin_max_failures: int = 5  # consecutive wrong passwords before the account is locked
    signin_lockout_minutes: float = 15.0
    temporal_ui_url: str = ""  # links from the case page to its workflow; empty: the embedded dev server's UI

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = default_data_dir()
        store = _env("ONESEAL_EVENT_STORE", "sqlite").lower()
        if store not in ("sqlite", "postgres"):
            raise SystemExit(f"ONESEAL_EVENT_STORE 应为 sqlite 或 postgres，而不是「{store}」")
        default_url = (
            str(data_dir / "events.db") if store == "sqlite" else "postgresql://postgres@127.0.0.1:5432/oneseal"
        )
        return cls(
            data_dir=data_dir,
            event_store=store,
            event_store_url=_env("ONESEAL_EVENT_STORE_URL", default_url),
            read_model_url=_env("ONESEAL_READ_MODEL_URL", f"sqlite:///{data_dir / 'read_models.db'}"),
            temporal_address=_env("ONESEAL_TEMPORAL_ADDRESS", ""),
            temporal_namespace=_env("ONESEAL_TEMPORAL_NAMESPACE", "default"),
            task_queue=_env("ONESEAL_TASK_QUEUE", TASK_QUEUE),
            dev_server_port=int(_env("ONESEAL_DEV_SERVER_PORT", "7233")),
            dev_server_ui_port=int(_env("ONESEAL_DEV_SERVER_UI_PORT", "8233")),
            log_format=_env("ONESEAL_LOG_FORMAT", "console"),
            read_your_writes_timeout=float(_env("ONESEAL_READ_YOUR_WRITES_TIMEOUT", "10")),
            rules=rules_from_env(),
            **_production_from_env(),
            projector_shards=max(1, int(_number("ONESEAL_PROJECTOR_SHARDS", str(_default_shards()), integer=True))),
            projector_shard_threshold=int(_number("ONESEAL_PROJECTOR_SHARD_THRESHOLD", "20000", integer=True)),
            stack_max_restarts=int(_number("ONESEAL_STACK_MAX_RESTARTS", "5", integer=True)),
            stack_backoff=_number("ONESEAL_STACK_BACKOFF", "1"),
            stack_backoff_max=_number("ONESEAL_STACK_BACKOFF_MAX", "30"),
            stack_stable_after=_number("ONESEAL_STACK_STABLE_AFTER", "60"),
            stack_stop_grace=_number("ONESEAL_STACK_STOP_GRACE", "2"),
            web_host=_env("ONESEAL_WEB_HOST", "127.0.0.1"),
            web_port=int(_number("ONESEAL_WEB_PORT", "8000", integer=True)),
            web_secure_cookies=_env("ONESEAL_WEB_SECURE_COOKIES", "0").lower() in ("1", "true", "yes"),
            session_hours=_number("ONESEAL_SESSION_HOURS", "8"),
            signin_max_failures=int(_number("ONESEAL_SIGNIN_MAX_FAILURES", "5", integer=True)),
            signin_lockout_minutes=_number("ONESEAL_SIGNIN_LOCKOUT_MINUTES", "15"),
            temporal_ui_url=_env("ONESEAL_TEMPORAL_UI_URL", ""),
        )

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.dev_server_port}"

    @property
    def embedded_temporal(self) -> bool:
        return not self.temporal_address

    @property
    def web_url(self) -> str:
        host = "127.0.0.1" if self.web_host in ("0.0.0.0", "::", "") else self.web_host
        return f"http://{host}:{self.web_port}"

    @property
    def temporal_ui(self) -> str:
        """Where the Temporal UI is, for links to a case's workflow ("" when unknown)."""
        if self.temporal_ui_url:
            return self.temporal_ui_url.rstrip("/")
        return f"http://127.0.0.1:{self.dev_server_ui_port}" if self.embedded_temporal else ""

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's own keys for the chosen persistence module."""
        if self.event_store == "sqlite":
            Path(self.event_store_url).parent.mkdir(parents=True, exist_ok=True)
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.event_store_url}
        return postgres_env(self.event_store_url)


def _flag(name: str, default: str = "0") -> bool:
    raw = _env(name, default).lower()
    if raw not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise SystemExit(f"{name} 应为 1 或 0（true/false），而不是「{raw}」")
    return raw in ("1", "true", "yes", "on")


def _pem_file(name: str) -> str:
    path = _env(name, "")
    if path and not Path(path).expanduser().is_file():
        raise SystemExit(f"{name} 指向的文件不存在：{path}")
    return str(Path(path).expanduser()) if path else ""


def _production_from_env() -> dict[str, Any]:
    ca, cert, key = (_pem_file(f"ONESEAL_TEMPORAL_TLS_{n}") for n in ("CA", "CERT", "KEY"))
    if bool(cert) != bool(key):
        raise SystemExit("ONESEAL_TEMPORAL_TLS_CERT 与 ONESEAL_TEMPORAL_TLS_KEY 须同时设置（客户端证书及其私钥）")
    api_key = _env("ONESEAL_TEMPORAL_API_KEY", "")
    return {
        "temporal_tls": _flag("ONESEAL_TEMPORAL_TLS", "1" if (ca or cert or api_key) else "0"),
        "temporal_tls_ca": ca,
        "temporal_tls_cert": cert,
        "temporal_tls_key": key,
        "temporal_tls_server_name": _env("ONESEAL_TEMPORAL_TLS_SERVER_NAME", ""),
        "temporal_api_key": api_key,
        "metrics_host": _env("ONESEAL_METRICS_HOST", "127.0.0.1"),
        "metrics_port": int(_number("ONESEAL_METRICS_PORT", "0", integer=True)),
        "temporal_metrics_port": int(_number("ONESEAL_TEMPORAL_METRICS_PORT", "0", integer=True)),
        "ready_max_lag_events": int(_number("ONESEAL_READY_MAX_LAG_EVENTS", "1000", integer=True)),
        "ready_max_lag_seconds": _number("ONESEAL_READY_MAX_LAG_SECONDS", "30"),
        "lease_poll": _number("ONESEAL_LEASE_POLL", "0.5"),
    }


def default_data_dir() -> Path:
    explicit = os.environ.get("ONESEAL_DATA_DIR", "").strip()
    if explicit:
        return Path(explicit).expanduser().resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        return checkout / "var"
    base = os.environ.get("XDG_DATA_HOME", "").strip() or str(Path.home() / ".local" / "share")
    return Path(base) / "oneseal"


def rules_from_env() -> TimeRules:
    """The time rules: each ``ONESEAL_<FIELD>`` over the default written once, in ``TimeRules``."""
    d = TimeRules()
    return TimeRules(
        deemed_acceptance_days=int(_env("ONESEAL_DEEMED_ACCEPTANCE_DAYS", str(d.deemed_acceptance_days))),
        deemed_acceptance_day_type=DayType(
            _env("ONESEAL_DEEMED_ACCEPTANCE_DAY_TYPE", d.deemed_acceptance_day_type.value)
        ),
        correction_window_days=int(_env("ONESEAL_CORRECTION_WINDOW_DAYS", str(d.correction_window_days))),
        correction_day_type=DayType(_env("ONESEAL_CORRECTION_DAY_TYPE", d.correction_day_type.value)),
        warning_share=float(_env("ONESEAL_WARNING_SHARE", str(d.warning_share))),
    )


def postgres_env(url: str) -> dict[str, str]:
    """``postgresql://user[:password]@host:port/dbname[?schema=S]`` → eventsourcing's POSTGRES_* keys."""
    u = urlparse(url)
    if u.scheme not in ("postgresql", "postgres"):
        raise SystemExit(f"ONESEAL_EVENT_STORE_URL 不是 PostgreSQL 地址：{url}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": (u.path or "/postgres").lstrip("/"),
        "POSTGRES_HOST": u.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(u.port or 5432),
        "POSTGRES_USER": unquote(u.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(u.password or ""),
    }
    for part in u.query.split("&"):
        if part.startswith("schema="):
            env["POSTGRES_SCHEMA"] = part.split("=", 1)[1]
    return env
