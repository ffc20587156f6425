"""Web benchmarks (issue 8). Not a test; results go to docs/performance.md.

Run: ``.venv/bin/python -m bench.bench_web [reads|step|all]``. Each leg has its baseline in the same run:

- reads: 1,000,000 cases in the read models (SQLite; ``bench_read_models.fill_million`` plus an open task
  for every open case). A reviewer signed in with a browser session asks for the worklist page and for
  case searches over HTTP (uvicorn on a free port); p50/p95 of 200 requests each. Baseline: the same
  service calls without HTTP.
- step: a staff step (受理, a Temporal Update + activity + read-your-writes) over HTTP with an API token,
  against the same step through the service layer directly, alternating, on a fresh dev server.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select, text
from temporalio.testing import WorkflowEnvironment

from bench.bench_read_models import fill_million
from domain.calendar import SHANGHAI
from domain.cases.steps import Accept
from entrypoints.http.app import create_app
from projections.queries import CaseQuery
from projections.runner import ProjectionRunner, lease, make_engine, run_all
from projections.tables import case_facts
from services.bootstrap import Bootstrap
from services.identity import DEMO_PASSWORD
from services.projections import PROJECTIONS
from services.settings import Settings
from tests.web.conftest import free_port
from workers.stopping import StopFlag
from workers.worker import build_worker

REVIEWER = "513221-scjg-a"  # 汶川县市场监督管理局 reviewer
FRONT = "513221-qt-a"
MATTER = "513221-SCJG-001"
APRIL = (datetime(2020, 4, 1, tzinfo=SHANGHAI), datetime(2020, 5, 1, tzinfo=SHANGHAI))


def settings_for(d: Path, **kw: Any) -> Settings:
    return replace(Settings.from_env(), data_dir=d, event_store="sqlite", event_store_url=str(d / "events.db"),
                   read_model_url=f"sqlite:///{d / 'read_models.db'}", log_format="console", **kw)  # fmt: skip


def serve(boot: Bootstrap) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(boot), host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))  # fmt: skip
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _up(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/health", timeout=1)
    except httpx.TransportError:
        return False
    return True


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def timed(fn: Callable[[], Any], n: int = 200, warm: int = 10) -> tuple[float, float]:
    for _ in range(warm):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return percentiles(samples)


def add_open_tasks(engine: Any) -> int:
    """An open review task for every open case of the million (what the projection would have written)."""
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO case_tasks (task_id, kind, ref, title, task, label, department, post, region, assignee,"
            " opened_at, due_at, priority) SELECT case_no || '/review', 'case', case_no, matter_name, 'review',"
            " '审查决定', department, 'reviewer', region, NULL, accepted_at, promised_deadline,"
            " CASE WHEN abs(random()) % 10 = 0 THEN 2 WHEN abs(random()) % 10 = 1 THEN 1 ELSE 0 END"
            " FROM case_facts WHERE status = 'under_review'"
        ))  # fmt: skip
        return int(conn.execute(text("SELECT count(*) FROM case_tasks")).scalar_one())


def bench_reads() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        settings = settings_for(d)
        t = time.perf_counter()
        engine = make_engine(settings.read_model_url)
        fill_million(engine)
        tasks = add_open_tasks(engine)
        with engine.connect() as conn:
            mine = conn.execute(text("SELECT count(*) FROM case_tasks WHERE department = '汶川县市场监督管理局'"
                                     " AND post = 'reviewer' AND region = '汶川县'")).scalar_one()  # fmt: skip
            region_cases = conn.execute(select(text("count(*)")).select_from(case_facts).where(
                case_facts.c.region == "汶川县")).scalar_one()  # fmt: skip
        engine.dispose()
        boot = Bootstrap(settings)
        boot.identity.add_demo_users(by={"user_id": "bench"}, region="汶川县")
        print(f"(filling 1,000,000 cases and {tasks} open tasks took {time.perf_counter() - t:.0f} s, not counted;"
              f" the reviewer's post has {mine} open tasks, 汶川县 has {region_cases} cases)")  # fmt: skip
        server, url = serve(Bootstrap(settings))
        http = httpx.Client(base_url=url, timeout=30)
        page = http.get("/login")
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        assert http.post("/login", data={"csrf_token": csrf, "username": REVIEWER, "password": DEMO_PASSWORD}
                         ).status_code == 303  # fmt: skip
        p = boot.identity.session_principal(REVIEWER, 0)
        assert p is not None
        access = boot.access

        def get(path: str) -> Callable[[], Any]:
            def call() -> None:
                r = http.get(path)
                assert r.status_code == 200, (path, r.status_code, r.text[:300])

            return call

        legs = [
            ("worklist page `/worklist` (my post's queue, 200 rows)", get("/worklist"),
             lambda: access.worklist(p, "queue")),
            ("worklist API `/api/worklist`", get("/api/worklist"), lambda: access.worklist(p, "queue")),
            ("case search page `/cases` (my scope, newest 50)", get("/cases"),
             lambda: access.search(p, CaseQuery(limit=50))),
            ("case search API by number prefix `/api/cases?case_no=M0009`", get("/api/cases?case_no=M0009"),
             lambda: access.search(p, CaseQuery(case_no="M0009", limit=50))),
            ("case search API, status and month `/api/cases?status=under_review&submitted_from=2020-04-01…`",
             get("/api/cases?status=under_review&submitted_from=2020-04-01&submitted_to=2020-04-30"),
             lambda: access.search(p, CaseQuery(statuses=("under_review",), submitted_from=APRIL[0],
                                                submitted_to=APRIL[1], limit=50))),
            ("case search API by applicant `/api/cases?applicant=某` (substring, my scope)",
             get("/api/cases?applicant=%E6%9F%90"), lambda: access.search(p, CaseQuery(applicant="某", limit=50))),
        ]  # fmt: skip
        print("| request (1,000,000 cases, SQLite) | HTTP p50 ms | HTTP p95 ms | service p50 ms | service p95 ms |")
        print("|---|---|---|---|---|")
        for label, over_http, direct in legs:
            h50, h95 = timed(over_http)
            s50, s95 = timed(direct)
            print(f"| {label} | {h50:.1f} | **{h95:.1f}** | {s50:.1f} | {s95:.1f} |")
        server.should_exit = True


async def bench_step(n: int = 60) -> None:
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=str(Path(sys.executable).parent / "temporal"))
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        d = Path(tmp)
        target = env.client.service_client.config.target_host
        settings = settings_for(d, temporal_address=target, task_queue=f"bench-web-{uuid.uuid4().hex[:6]}")
        boot = Bootstrap(settings, client=env.client)
        boot.identity.add_demo_users(by={"user_id": "bench"}, region="汶川县")
        _, token = boot.identity.issue_token(FRONT, "bench", by={"user_id": "bench"})
        stop = StopFlag()
        runners = [ProjectionRunner(boot.store, boot.read_models, make()) for make in PROJECTIONS.values()]
        for r in runners:
            stack.enter_context(lease(boot.read_models, r.name))
        projector = threading.Thread(target=run_all, args=(runners, stop, 0.02), daemon=True)
        projector.start()
        # The web app in a process of its own, as `oneseal up` runs it (no GIL shared with the worker).
        port = free_port()
        web_env = {
            **os.environ,
            "ONESEAL_DATA_DIR": str(d),
            "ONESEAL_TEMPORAL_ADDRESS": target,
            "ONESEAL_TASK_QUEUE": settings.task_queue,
            "ONESEAL_WEB_PORT": str(port),
            "ONESEAL_LOG_FORMAT": "json",
        }
        web = subprocess.Popen([sys.executable, "-m", "entrypoints.http"], env=web_env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
        stack.callback(web.kill)
        url = f"http://127.0.0.1:{port}"
        while not _up(url):
            await asyncio.sleep(0.1)
        actor = boot.directory.actor(FRONT)
        async with build_worker(env.client, boot.store, settings.task_queue), httpx.AsyncClient(base_url=url) as http:
            cases = []
            for _ in range(2 * n + 4):
                done = await boot.cases.submit(matter_code=MATTER, applicant="压测", materials=list(
                    boot.directory.matter(MATTER).materials), actor=actor)  # fmt: skip
                cases.append(done.case.case_no)
            headers = {"authorization": f"Bearer {token}"}
            direct, over_http = [], []
            for i, no in enumerate(cases):
                t = time.perf_counter()
                if i % 2 == 0:
                    await boot.cases.step(no, Accept(actor=actor))
                    elapsed, bucket = time.perf_counter() - t, direct
                else:
                    r = await http.post(f"/api/cases/{no}/accept", headers=headers)
                    assert r.status_code == 200 and r.json()["lists_lag"] is None, r.text
                    elapsed, bucket = time.perf_counter() - t, over_http
                if i >= 4:  # the first two of each: warm-up
                    bucket.append(elapsed)
        web.terminate()
        web.wait(10)
        stop.set()
        projector.join(10)
    await env.shutdown()
    d50, d95 = percentiles(direct)
    h50, h95 = percentiles(over_http)
    dm, hm = statistics.mean(direct) * 1000, statistics.mean(over_http) * 1000
    print("| staff step 受理 (Update + activity + read-your-writes) | n | mean ms | p50 ms | p95 ms |")
    print("|---|---|---|---|---|")
    print(f"| through the service layer directly | {len(direct)} | {dm:.1f} | {d50:.1f} | {d95:.1f} |")
    print(f"| over HTTP (API token, uvicorn) | {len(over_http)} | {hm:.1f} | {h50:.1f} | {h95:.1f} |")
    print(f"HTTP adds {100 * (hm / dm - 1):+.1f} % (mean), {100 * (h50 / d50 - 1):+.1f} % (median)")


if __name__ == "__main__":
    leg = sys.argv[1] if len(sys.argv) > 1 else "all"
    print(f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    if leg in ("reads", "all"):
        bench_reads()
    if leg in ("step", "all"):
        asyncio.run(bench_step())
