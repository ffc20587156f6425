"""PostgreSQL restarted in the middle of a live drive on the PostgreSQL event store: the activities that
fail meanwhile are retried, the drive goes on, and every case has exactly its events, none lost, none twice.

It restarts the machine's shared PostgreSQL, so it is marked ``runs_last`` (tests/conftest.py moves it
to the very end of the session, after every other test that uses PostgreSQL)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from .support import Drive, Up, check_exactly_once, embedded_env, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.runs_last]
PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"


@pytest.fixture
def pg_store() -> Iterator[str]:
    name = f"oneseal_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        wait_until(pg_up, 60, "PostgreSQL to accept connections")
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_up() -> bool:
    try:
        psycopg.connect(PG_ADMIN).close()
    except psycopg.OperationalError:
        return False
    return True


def restart_postgres() -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True, timeout=120)


def pg_sequences(dbname: str) -> dict[str, tuple[str, ...]]:
    """Every case's events in the PostgreSQL store, in version order."""
    with psycopg.connect(PG_ADMIN.replace("dbname=postgres", f"dbname={dbname}")) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.columns "
            "WHERE column_name = 'originator_version' AND table_schema NOT IN ('pg_catalog', 'information_schema')"
        )]  # fmt: skip
        seqs: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for table in tables:
            for originator, version, topic in conn.execute(
                f"SELECT originator_id::text, originator_version, topic FROM {table}"
            ):
                if ":Case." in topic:
                    seqs[originator].append((version, topic.rsplit(".", 1)[-1]))
    return {k: tuple(name for _, name in sorted(v)) for k, v in seqs.items()}


def submitted(dbname: str) -> int:
    try:
        return sum(1 for s in pg_sequences(dbname).values() if s)
    except psycopg.Error:
        return 0


def test_postgres_restarted_mid_drive_nothing_lost_nothing_twice(tmp_path: Path, pg_store: str) -> None:
    env = embedded_env(
        tmp_path,
        ONESEAL_EVENT_STORE="postgres",
        ONESEAL_EVENT_STORE_URL=f"postgresql://postgres@127.0.0.1:5432/{pg_store}",
        ONESEAL_STACK_MAX_RESTARTS="20",
    )
    up = Up(env).start()
    try:
        drive = Drive(env)
        wait_until(lambda: submitted(pg_store) >= 8, 120, "the drive to be under way")
        assert drive.proc.poll() is None, "the drive ended before PostgreSQL was restarted"
        t0 = time.monotonic()
        restart_postgres()
        wait_until(pg_up, 60, "PostgreSQL to come back")
        restart = time.monotonic() - t0
        rc = drive.wait(timeout=300)
        assert rc == 0, drive.stderr[-3000:]
        assert "Traceback" not in drive.stderr
        check_exactly_once(pg_sequences(pg_store), drive.report())
        assert up.stop() == 0
    finally:
        up.kill()
    assert restart < 60
