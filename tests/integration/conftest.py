"""Integration fixtures: the event store on BOTH SQLite and PostgreSQL, a worker per store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.calendar import ServiceCalendar, default_calendar
from domain.cases.application import CaseApplication
from services.bootstrap import Bootstrap
from services.cases import CaseService
from services.settings import Settings, postgres_env
from workers.worker import build_worker

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, dropped afterwards."""
    name = f"oneseal_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Stack:
    """What a test needs: a store, the services wired on it by the one bootstrap, a worker."""

    kind: str
    env: WorkflowEnvironment
    boot: Bootstrap
    store_env: dict[str, str]

    @property
    def app(self) -> CaseApplication:
        return self.boot.store

    @property
    def settings(self) -> Settings:
        return self.boot.settings

    @property
    def service(self) -> CaseService:
        return self.boot.cases

    @property
    def client(self) -> Client:
        return self.env.client

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    def on_queue(self, queue: str) -> Bootstrap:
        """The same store and client, another task queue (for a worker of a test's own)."""
        b = Bootstrap(replace(self.settings, task_queue=queue), client=self.client)
        b.__dict__["store"] = self.app  # one application per store in this process
        return b


def settings_for(kind: str, url: str, task_queue: str, target: str, data_dir: Path) -> Settings:
    base = Settings.from_env()
    return replace(
        base,
        data_dir=data_dir,
        event_store=kind,
        event_store_url=url,
        read_model_url=f"sqlite:///{data_dir / 'read_models.db'}",
        temporal_address=target,
        temporal_namespace="default",
        task_queue=task_queue,
        log_format="console",
    )


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
async def stack(
    request: pytest.FixtureRequest,
    temporal_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    kind: str = request.param
    data_dir = tmp_path_factory.mktemp(f"store-{kind}")
    url = str(data_dir / "events.db") if kind == "sqlite" else request.getfixturevalue("pg_database")
    target = temporal_env.client.service_client.config.target_host
    settings = settings_for(kind, url, f"cases-{kind}-{uuid.uuid4().hex[:6]}", target, data_dir)
    store_env = settings.event_store_env() if kind == "sqlite" else postgres_env(url)
    boot = Bootstrap(settings, client=temporal_env.client)
    worker = build_worker(temporal_env.client, boot.store, settings.task_queue, boot=boot)
    async with worker:
        yield Stack(kind, temporal_env, boot, store_env)


@pytest.fixture(params=["sqlite", "postgres"])
async def fresh(
    request: pytest.FixtureRequest, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[Bootstrap]:
    """A store of this test's own (a new SQLite file, or a new PostgreSQL schema), with its own worker and
    read models: for tests that change what every case sees (a calendar year) or count everything stored."""
    kind: str = request.param
    if kind == "sqlite":
        url = str(tmp_path / "events.db")
    else:
        db: str = request.getfixturevalue("pg_database")
        schema = f"es_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={db.rsplit('/', 1)[1]}"),
                             autocommit=True) as conn:  # fmt: skip
            conn.execute(f"CREATE SCHEMA {schema}")
        url = f"{db}?schema={schema}"
    target = temporal_env.client.service_client.config.target_host
    settings = settings_for(kind, url, f"fresh-{kind}-{uuid.uuid4().hex[:6]}", target, tmp_path)
    boot = Bootstrap(replace(settings, read_your_writes_timeout=5.0), client=temporal_env.client)
    # Its calendar stops before the year two months from now: a 30-working-day limit always reaches a year
    # whose holidays are "unknown", whatever today is (the calendar tests load that year as data).
    shipped = default_calendar()
    unknown = (datetime.now(UTC) + timedelta(days=60)).year
    trimmed = ServiceCalendar(
        {d: n for d, n in shipped._holidays.items() if d.year < unknown},
        {d: n for d, n in shipped._workdays.items() if d.year < unknown},
        {y for y in shipped.years if y < unknown},
        f"{shipped.source} (years before {unknown})",
    )
    boot.__dict__["store"] = CaseApplication(env=boot.settings.event_store_env(), calendar=trimmed)
    async with build_worker(temporal_env.client, boot.store, settings.task_queue, boot=boot):
        yield boot
