"""Zero-downtime rebuild: `oneseal projections rebuild --into URL` builds every read model into another
database while the live one keeps its projector (and its lease); the result equals the live read model."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from domain.errors import DomainError
from projections.cases import CasesProjection
from projections.runner import ProjectionRunner, lease, make_engine
from services.bootstrap import Bootstrap
from services.projections import PROJECTIONS
from services.settings import Settings

from .conftest import PG_ADMIN
from .support import seed_live_cases
from .test_projections import snapshot

pytestmark = pytest.mark.integration
ONESEAL = str(Path(sys.executable).parent / "oneseal")


def _drop(database: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_rebuild_beside_the_live_read_model(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if kind == "sqlite":
        env = {"ONESEAL_EVENT_STORE": "sqlite", "ONESEAL_EVENT_STORE_URL": str(tmp_path / "events.db"),
               "ONESEAL_READ_MODEL_URL": f"sqlite:///{tmp_path / 'live.db'}"}  # fmt: skip
        target = f"sqlite:///{tmp_path / 'next.db'}"
    else:
        db: str = request.getfixturevalue("pg_database")
        tag = uuid.uuid4().hex[:8]
        with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={db.rsplit('/', 1)[1]}"),
                             autocommit=True) as conn:  # fmt: skip
            for schema in (f"es_{tag}", f"live_{tag}"):
                conn.execute(f"CREATE SCHEMA {schema}")
        # Another DATABASE: the leases are advisory locks, which PostgreSQL keeps per database.
        next_db = f"{db.rsplit('/', 1)[1]}_next"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{next_db}"')
        request.addfinalizer(lambda: _drop(next_db))
        env = {"ONESEAL_EVENT_STORE": "postgres", "ONESEAL_EVENT_STORE_URL": f"{db}?schema=es_{tag}",
               "ONESEAL_READ_MODEL_URL": f"{db}?options=-csearch_path%3Dlive_{tag}"}  # fmt: skip
        target = f"{db.rsplit('/', 1)[0]}/{next_db}"
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path), **env}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        boot = Bootstrap(Settings.from_env())
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seed_live_cases(boot.store, 300, seed=21)
    live = make_engine(boot.settings.read_model_url)
    runner = ProjectionRunner(boot.store, live, CasesProjection(), batch_size=100)
    with lease(live, "cases"):  # the live projector keeps running meanwhile
        runner.catch_up()
        built = boot.projections.rebuild_into(target)
        assert [(s.name, s.position) for s in built] == [(name, runner.head()) for name in PROJECTIONS]
        assert snapshot(make_engine(target)) == snapshot(live)
        # Run again after more events: it continues from where it stopped.
        seed_live_cases(boot.store, 30, seed=22)
        runner.catch_up()
        result = subprocess.run([ONESEAL, "projections", "rebuild", "--into", target], env=env, capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "已重建「cases」" in result.stdout and "ONESEAL_READ_MODEL_URL" in result.stdout
        assert snapshot(make_engine(target)) == snapshot(live)
        # Into the database a projector holds: refused, nothing written.
        with pytest.raises(DomainError, match="目标库已有投影进程") as refused:
            boot.projections.rebuild_into(boot.settings.read_model_url)
        assert refused.value.code == "PROJECTION_BUSY"
