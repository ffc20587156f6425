"""/healthz, /readyz and /metrics (entrypoints/http/health.py) mounted in a tiny FastAPI app, over a real
Temporal dev server of this test's own (stopped and started again), a SQLite store and its read models."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from domain.catalogue import default_catalogue
from entrypoints.http import health
from services.bootstrap import Bootstrap
from services.errors import TemporalUnreachable
from services.settings import Settings
from tests.conftest import temporal_binary
from tests.ports import free_port
from workers.worker import build_worker
from workflows.search_attributes import dev_server_args

from .support import FRONT, MATTER, new_case_no

pytestmark = pytest.mark.integration


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class DevServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port",
                str(self.port), "--log-level", "error", *dev_server_args()]  # fmt: skip
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not port_open(self.port):
            assert time.monotonic() < deadline, "dev server did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            self.proc.wait(15)


@pytest.fixture
def server() -> Iterator[DevServer]:
    s = DevServer(free_port())
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def boot(server: DevServer, tmp_path: Path) -> Bootstrap:
    settings = dataclasses.replace(
        Settings.from_env(), data_dir=tmp_path, event_store="sqlite", event_store_url=str(tmp_path / "events.db"),
        read_model_url=f"sqlite:///{tmp_path / 'read_models.db'}", temporal_address=f"127.0.0.1:{server.port}",
        task_queue=f"health-{uuid.uuid4().hex[:6]}", ready_max_lag_events=1000, ready_max_lag_seconds=30,
    )  # fmt: skip
    return Bootstrap(settings)


@pytest.fixture
async def http(boot: Bootstrap) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.boot = boot
    app.include_router(health.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://oneseal") as client:
        yield client


async def submit_one(boot: Bootstrap) -> str:
    client = await boot.temporal()
    async with build_worker(client, boot.store, boot.settings.task_queue):
        case_no = new_case_no("hz")
        await boot.cases.submit(matter_code=MATTER, applicant="某某", materials=list(default_catalogue().get(MATTER).materials),
                                actor=FRONT, case_no=case_no, read_your_writes=False)  # fmt: skip
    return case_no


async def test_readyz_follows_temporal_and_the_projection_lag(
    boot: Bootstrap, server: DevServer, http: httpx.AsyncClient
) -> None:
    alive = await http.get("/healthz")
    assert alive.status_code == 200 and alive.json()["alive"] is True

    await submit_one(boot)  # one event in the store, no projector running
    lagging = await http.get("/readyz", params={"max_lag_events": 0})
    assert lagging.status_code == 503
    body = lagging.json()
    assert body["checks"]["temporal"]["ok"] and body["checks"]["event_store"]["ok"]
    assert body["checks"]["read_models"]["code"] == "READ_MODEL_LAGGING"
    assert body["projections"][0]["lag_events"] == 1 and body["projections"][0]["lag_seconds"] >= 0
    assert (await http.get("/readyz")).status_code == 200  # within the configured thresholds

    boot.projections.ensure_fresh()
    assert (await http.get("/readyz", params={"max_lag_events": 0})).status_code == 200

    server.stop()
    t = time.monotonic()
    down = await http.get("/readyz")
    assert down.status_code == 503 and time.monotonic() - t < 10
    checks = down.json()["checks"]
    assert not checks["temporal"]["ok"] and checks["event_store"]["ok"] and checks["read_models"]["ok"]
    assert (await http.get("/healthz")).status_code == 200  # alive all along: nothing to restart

    server.start()  # the same address again
    deadline = time.monotonic() + 30
    while (await http.get("/readyz")).status_code != 200:
        assert time.monotonic() < deadline, "not ready again after the dev server returned"
        time.sleep(0.5)


async def test_metrics_expose_the_named_series(boot: Bootstrap, http: httpx.AsyncClient) -> None:
    await submit_one(boot)
    boot.projections.ensure_fresh()
    response = await http.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    for series in (
        'oneseal_cases{status="submitted"} 1.0',
        'oneseal_cases{status="completed"} 0.0',
        'oneseal_worklist_items{post="front_desk",priority="normal",region="汶川县"} 1.0',
        'oneseal_projection_position{projection="cases"}',
        'oneseal_projection_lag_events{projection="cases"} 0.0',
        'oneseal_projection_lag_seconds{projection="cases"} 0.0',
        "oneseal_store_head 1.0",
        "oneseal_read_model_up 1.0",
        "# TYPE oneseal_cases_overdue gauge",
        'oneseal_step_seconds_bucket{le="0.05",outcome="ok",step="submit"}',
        'oneseal_activity_executions_total{activity="case_command",outcome="completed"}',
        "# TYPE oneseal_activity_retries_total counter",
        "# TYPE oneseal_activity_seconds histogram",
    ):
        assert series in text, series


async def test_tls_settings_are_used_by_the_client(boot: Bootstrap, http: httpx.AsyncClient) -> None:
    """With TLS on, the client speaks TLS: the plain dev server cannot answer it, and /readyz says so."""
    boot.settings = dataclasses.replace(boot.settings, temporal_tls=True, temporal_tls_server_name="temporal.example")
    with pytest.raises(TemporalUnreachable):
        await boot.temporal()
    body = (await http.get("/readyz")).json()
    assert body["checks"]["temporal"]["code"] == "TEMPORAL_UNREACHABLE"
