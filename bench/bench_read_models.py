"""Read-model benchmarks (issue: projections and the bulletin). Not a test; results go to docs/performance.md.

Run: ``.venv/bin/python -m bench.bench_read_models [import|project|bulletin|all]``. Every leg prints a
baseline measured in the same run:

- import: the full aba-2020-04 month (86,454 rows, 86,245 accepted) on SQLite, parse + validate + save;
  baseline: the library's own ``save()`` of the same number of aggregates, one per call.
- project: catch-up of the ``cases`` projection over a live-style event stream, SQLite and PostgreSQL;
  baseline: the raw notification-log read (``select_notifications``) of the same events, before and
  after the catch-up in the same run, with wall and CPU seconds and the load average.
- bulletin: one month's bulletin over 1,000,000 cases in the read models; baseline: the same figures
  computed by a GROUP BY over ``case_facts`` (what a report without the statistics table would do).
"""

from __future__ import annotations

import os
import platform
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from sqlalchemy import Engine, func, select, text

from domain.calendar import default_calendar
from domain.cases.application import CaseApplication
from domain.cases.legacy import HistoricalCase, parse_import
from domain.cases.scenario import ABA_2020_04, generate_csv
from domain.catalogue import default_catalogue
from projections.bulletin import bulletin
from projections.cases import FACT_COLUMNS, CasesProjection
from projections.decoder import read_stored
from projections.runner import ProjectionRunner, ensure_schema, make_engine
from projections.tables import case_facts
from services.settings import postgres_env
from tests.integration.support import seed_live_cases

PG = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def sqlite_app(d: Path) -> CaseApplication:
    return CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(d / "events.db")})


def raw_read(app: CaseApplication) -> tuple[int, float]:
    t, n, start = time.perf_counter(), 0, 0
    while batch := app.recorder.select_notifications(start=start, limit=5000, inclusive_of_start=False):
        n += len(batch)
        start = batch[-1].id
    return n, time.perf_counter() - t


def direct_read(app: CaseApplication) -> int:
    """What the runner reads per batch: one SQL query (projections.decoder.read_stored)."""
    n, start = 0, 0
    while rows := read_stored(app.recorder, start, 5000):
        n += len(rows)
        start = rows[-1][0]
    return n


def timed(fn: Callable[[], int]) -> tuple[int, float, float, float]:
    """Items, wall seconds, CPU seconds (this process and its children), and the 1-minute load average."""
    w, c = time.perf_counter(), _cpu()
    n = fn()
    return n, time.perf_counter() - w, _cpu() - c, os.getloadavg()[0]


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (a sharded catch-up's processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def catch_up_legs(label: str, app: CaseApplication, make_runner: Callable[[int], ProjectionRunner]) -> None:
    """raw read, direct read, catch-up in one process, catch-up in 2 (sharded), raw read: interleaved so
    drift shows; wall and CPU figures (the machine is shared: CPU seconds of this process are the steadier
    measure for the one-process leg; the sharded leg's work is in its child processes, so its wall counts)."""
    legs = [
        ("raw notification read (`select_notifications`, 5,000 per call)", lambda: raw_read(app)[0]),
        ("direct read (`read_stored`, one SQL query per 5,000)", lambda: direct_read(app)),
        ("`cases` projection catch-up, one process (5,000 per transaction)", lambda: make_runner(1).catch_up()),
        ("`cases` projection catch-up, 2 processes (sharded)", lambda: make_runner(2).catch_up()),
        ("raw notification read (`select_notifications`, 5,000 per call)", lambda: raw_read(app)[0]),
    ]
    results = []
    for name, fn in legs:
        n, wall, cpu, load = timed(fn)
        results.append((name, n, wall, cpu))
        print(
            f"| {label}: {name} | {n:,} events | {wall:.2f} s (CPU {cpu:.2f} s) "
            f"| {n / wall:,.0f} events/s (CPU: {n / cpu:,.0f}/s) | load {load:.1f} |",
            flush=True,
        )
    raw = [r for r in results if r[0].startswith("raw")]
    raw_wall = sum(r[2] for r in raw) / len(raw)
    raw_cpu = sum(r[3] for r in raw) / len(raw)
    one = next(r for r in results if "one process" in r[0])
    two = next(r for r in results if "sharded" in r[0])
    print(
        f"| {label}: ratio catch-up / raw read (same run) | | one process: wall {raw_wall / one[2]:.2f}, "
        f"CPU {raw_cpu / one[3]:.2f}; 2 processes: wall {raw_wall / two[2]:.2f} | | |"
    )


def bench_import() -> None:
    with tempfile.TemporaryDirectory() as d:
        app = sqlite_app(Path(d))
        t = time.perf_counter()
        csv_text = generate_csv(ABA_2020_04)
        gen = time.perf_counter() - t
        t = time.perf_counter()
        parsed = parse_import(csv_text, default_catalogue(), default_calendar())
        outcome = app.import_cases(parsed.records, batch="bench")
        took = time.perf_counter() - t
        assert outcome.added == len(parsed.records) == 86454
        base_app = CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                        "SQLITE_DBNAME": str(Path(d) / "base.db")})  # fmt: skip

        sample = parsed.records[:5000]
        t = time.perf_counter()
        for r in sample:
            base_app.save(HistoricalCase(**r.as_event_fields(), batch="base"))
        per_save = (time.perf_counter() - t) / len(sample)
    print(
        f"| import aba-2020-04 (SQLite), parse+validate+save | {outcome.added} cases | {took:.1f} s "
        f"| {outcome.added / took:,.0f} cases/s |"
    )
    print(
        f"| baseline: one save() per case (5,000 sampled, extrapolated) | {outcome.added} cases "
        f"| {per_save * outcome.added:.1f} s | {1 / per_save:,.0f} cases/s |"
    )
    print(f"(generating the CSV took {gen:.1f} s, not counted)")


def bench_project(cases_sqlite: int = 30_000, cases_pg: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as d:
        sq_app = sqlite_app(Path(d))
        seed_live_cases(sq_app, cases_sqlite, seed=1)
        catch_up_legs(
            "SQLite",
            sq_app,
            lambda shards: ProjectionRunner(
                sq_app, make_engine(f"sqlite:///{d}/rm{shards}.db"), CasesProjection(), shards=shards
            ),
        )
    name = f"oneseal_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql://postgres@127.0.0.1:5432/{name}"
        pg_app = CaseApplication(env=postgres_env(url))
        seed_live_cases(pg_app, cases_pg, seed=2)
        engines = []

        def pg_runner(shards: int) -> ProjectionRunner:
            schema = f"rm{shards}"
            with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}", autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            engines.append(make_engine(f"{url}?options=-csearch_path%3D{schema}"))
            return ProjectionRunner(pg_app, engines[-1], CasesProjection(), shards=shards)

        catch_up_legs("PostgreSQL", pg_app, pg_runner)
        for engine in engines:
            engine.dispose()
        pg_app.close()
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fill_million(engine: Engine, total: int = 1_000_000) -> None:
    """1,000,000 synthetic case rows over 12 months, and the statistics derived from them by SQL."""
    ensure_schema(engine, CasesProjection(), "Cases")
    rng = random.Random(1)
    cat = list(default_catalogue().matters.values())
    placeholders = ", ".join(["?"] * len(FACT_COLUMNS))
    sql = f"INSERT INTO case_facts ({', '.join(FACT_COLUMNS)}) VALUES ({placeholders})"
    with engine.begin() as conn:
        rows = []
        for i in range(total):
            m = rng.choice(cat)
            month = f"2020-{1 + i % 12:02d}"
            day = f"{month}-{1 + rng.randrange(28):02d} 03:00:00"
            done = rng.random() < 0.99
            row = {c: None for c in FACT_COLUMNS}
            row.update(
                case_id=uuid.UUID(int=i).hex,
                case_no=f"M{i:08d}",
                matter_code=m.code,
                matter_name=m.name,
                matter_kind=m.kind.value,
                department=m.authority.department,
                level=m.authority.level.value,
                region=m.authority.region,
                applicant="x",
                submitted_at=day,
                accepted_at=day,
                accepted_month=month,
                completed_at=day if done else None,
                completed_month=month if done else None,
                promised_deadline=day,
                suspended_days=0,
                on_time=done,
                result="granted" if done else None,
                status="completed" if done else "under_review",
                warned=False,
                overdue=False,
                imported=True,
                demo=False,
                deadline_provisional=False,
                version=1,
            )
            rows.append(tuple(row[c] for c in FACT_COLUMNS))
            if len(rows) == 50_000:
                conn.exec_driver_sql(sql, rows)
                rows = []
        conn.execute(
            text(
                "INSERT INTO service_stats (month, level, region, department, matter_kind, demo, accepted, refused, withdrawn,"
                " completed, completed_on_time, completed_early, completed_overdue, cohort_completed)"
                " SELECT accepted_month, level, region, department, matter_kind, 0, COUNT(*), 0, 0,"
                " SUM(completed_at IS NOT NULL), SUM(on_time = 1), 0, 0, SUM(completed_at IS NOT NULL)"
                " FROM case_facts GROUP BY accepted_month, level, region, department, matter_kind"
            )
        )


def naive_bulletin(engine: Engine, month: str) -> list[tuple[object, ...]]:
    c = case_facts.c
    accepted = (
        select(c.level, c.region, c.department, func.count())
        .where(c.accepted_month == month)
        .group_by(c.level, c.region, c.department)
    )
    completed = (
        select(c.level, c.region, c.department, func.count())
        .where(c.completed_month == month)
        .group_by(c.level, c.region, c.department)
    )
    with engine.connect() as conn:
        return [*conn.execute(accepted).all(), *conn.execute(completed).all()]


def bench_bulletin() -> None:
    with tempfile.TemporaryDirectory() as d:
        engine = make_engine(f"sqlite:///{d}/rm.db")
        t = time.perf_counter()
        fill_million(engine)
        fill = time.perf_counter() - t
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(case_facts)).scalar() == 1_000_000

        def best(fn: object, runs: int = 7) -> float:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                fn()  # type: ignore[operator]
                times.append(time.perf_counter() - t)
            return sorted(times)[len(times) // 2]

        ours = best(lambda: bulletin(engine, "2020-04"))
        naive = best(lambda: naive_bulletin(engine, "2020-04"))
        data = bulletin(engine, "2020-04")
        assert data["prefecture_wide"]["accepted"] == sum(1 for i in range(1_000_000) if i % 12 == 3)
    print(f"| bulletin 2020-04 over 1,000,000 cases (SQLite), median of 7 | {ours * 1000:.1f} ms |")
    print(
        f"| baseline: GROUP BY over case_facts, same month | {naive * 1000:.1f} ms (ours is {naive / ours:.0f}x faster) |"
    )
    print(f"(filling 1,000,000 rows took {fill:.0f} s, not counted)")


if __name__ == "__main__":
    leg = sys.argv[1] if len(sys.argv) > 1 else "all"
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if leg in ("import", "all"):
        bench_import()
    if leg in ("project", "all"):
        bench_project()
    if leg in ("bulletin", "all"):
        bench_bulletin()
