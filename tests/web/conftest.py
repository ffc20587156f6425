"""The web app over real HTTP: uvicorn on a free port, a worker and a projector, a real store (SQLite and
PostgreSQL), the session's real Temporal dev server; each piece in a thread of its own with its own
event loop and client, so tests are plain synchronous code (httpx, Playwright's sync API)."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from entrypoints.http.app import create_app
from projections.runner import ProjectionRunner, lease, run_all
from services.bootstrap import Bootstrap
from services.identity import DEMO_PASSWORD
from services.projections import PROJECTIONS
from services.settings import Settings
from tests.ports import free_port
from workers.stopping import StopFlag
from workers.worker import build_worker

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
FRONT, REVIEWER, OUTPUT, SUPERVISOR = "513221-qt-a", "513221-scjg-a", "513221-cj-a", "513221-db-a"
OTHER_FRONT = "513222-qt-a"  # 理县: another county
MATTER = "513221-SCJG-001"  # 汶川县 食品经营许可, 5 materials
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


@dataclass
class WebStack:
    kind: str
    url: str
    boot: Bootstrap
    settings: Settings

    def client(self, user: str | None = None, password: str = DEMO_PASSWORD) -> Browser:
        c = Browser(httpx.Client(base_url=self.url, timeout=60, follow_redirects=False))
        if user:
            c.sign_in(user, password)
        return c

    def token(self, user: str) -> dict[str, str]:
        _, token = self.boot.identity.issue_token(user, "tests", by={"user_id": "tests"})
        return {"authorization": f"Bearer {token}"}


class Browser:
    """An httpx client that signs in through the login form and keeps the CSRF token of its session."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.csrf = ""

    def refresh_csrf(self, path: str = "/login") -> str:
        page = self.http.get(path)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        self.csrf = found.group(1)
        return self.csrf

    def sign_in(self, user: str, password: str = DEMO_PASSWORD) -> httpx.Response:
        self.refresh_csrf()
        r = self.http.post("/login", data={"csrf_token": self.csrf, "username": user, "password": password})
        if r.status_code == 303:
            self.refresh_csrf("/account")
        return r

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"x-csrf-token": self.csrf, **kw.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kw)

    def form(self, path: str, data: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **data})


def _pg_database() -> str:
    name = f"oneseal_web_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Worker(threading.Thread):
    """The Temporal worker in a thread with its own loop and client."""

    def __init__(self, target: str, boot: Bootstrap) -> None:
        super().__init__(daemon=True, name="web-test-worker")
        self.target, self.boot = target, boot
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._quit: asyncio.Event | None = None

    def run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as e:  # reported by the fixture
            self.error = e
            self.ready.set()

    async def _main(self) -> None:
        self._quit = asyncio.Event()
        client = await Client.connect(self.target)
        async with build_worker(client, self.boot.store, self.boot.settings.task_queue):
            self.ready.set()
            await self._quit.wait()

    def stop(self) -> None:
        if self._loop and self._quit:
            self._loop.call_soon_threadsafe(self._quit.set)
        self.join(30)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def web(request: pytest.FixtureRequest, temporal_env: WorkflowEnvironment,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebStack]:  # fmt: skip
    kind: str = request.param
    data_dir = tmp_path_factory.mktemp(f"web-{kind}")
    target = temporal_env.client.service_client.config.target_host
    db = _pg_database() if kind == "postgres" else None
    store_url = str(data_dir / "events.db") if db is None else f"postgresql://postgres@127.0.0.1:5432/{db}"
    read_models = f"sqlite:///{data_dir / 'read_models.db'}" if db is None else store_url
    port = free_port()
    settings = replace(
        Settings.from_env(), data_dir=data_dir, event_store=kind, event_store_url=store_url,
        read_model_url=read_models, temporal_address=target, temporal_namespace="default",
        task_queue=f"web-{kind}-{uuid.uuid4().hex[:6]}", log_format="console", web_port=port,
        signin_max_failures=3, signin_lockout_minutes=1, read_your_writes_timeout=20,
    )  # fmt: skip
    boot = Bootstrap(settings)
    boot.identity.ensure_admin()
    boot.identity.add_demo_users(by={"user_id": "tests", "via": "tests"})
    stop = StopFlag()
    with ExitStack() as stack:
        runners = [
            ProjectionRunner(boot.store, boot.read_models, make(), batch_size=500) for make in PROJECTIONS.values()
        ]
        for r in runners:
            stack.enter_context(lease(boot.read_models, r.name))
        projector = threading.Thread(target=run_all, args=(runners, stop, 0.05), daemon=True, name="web-projector")
        projector.start()
        worker = _Worker(target, boot)
        worker.start()
        assert worker.ready.wait(30) and worker.error is None, worker.error
        server = uvicorn.Server(uvicorn.Config(create_app(Bootstrap(settings)), host="127.0.0.1", port=port,
                                               log_level="warning", access_log=False))  # fmt: skip
        web_thread = threading.Thread(target=server.run, daemon=True, name="web-uvicorn")
        web_thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and web_thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield WebStack(kind, f"http://127.0.0.1:{port}", boot, settings)
        finally:
            server.should_exit = True
            web_thread.join(15)
            worker.stop()
            stop.set()
            projector.join(15)
    if db:
        boot.read_models.dispose()
        _drop(db)
