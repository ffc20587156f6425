"""Projection lag under the live drive, and the resident memory of the stack's processes over a long drive
(issue 10 items 3 and 7). Not a test: run it and copy the printed lines into docs/performance.md.

    .venv/bin/python -m bench.bench_lag soak [MINUTES] [CONCURRENCY]        # one stack; default 30 min, 4
    .venv/bin/python -m bench.bench_lag idle [MINUTES] [LEGS] [CONCURRENCY]   # a stack per leg, e.g. 0.2,0.05,0.2

A leg of ``idle`` is ONESEAL_PROJECTOR_IDLE, or ``REF:IDLE`` to run the whole stack on the code of git REF
(``git archive`` put first on PYTHONPATH): the same-run baseline of a change to the projector.

Each run starts the real embedded stack (`oneseal up` in a fresh data directory: the Temporal dev server, the
worker, the projector and the web app, each a process of its own, supervised as in production) and drives it
with `oneseal scenario drive aba-2020-04` (another process), one drive after the other until the time is up.

Lag, from commit to visible. A sampler process (``_sample``) polls, every 20 ms, the event store's newest
notification id (``max(rowid)`` of the SQLite store) and the read model's tracking positions, and writes every
change with its wall-clock time. Notification id ``i`` is *committed* at the first sample whose head is ≥ i and
*visible* at the first sample whose tracking position is ≥ i (the ``cases`` read model: what the case pages and
lists read; and all three read models: ``cases``, ``projects``, ``transfer``, which the projector steps in turn).
Each sample errs late by at most one interval on either side, so a lag is known to ±20 ms. A second, independent
figure: the visible time against the event's own timestamp (set by the aggregate in the worker's activity, a few
milliseconds before its transaction commits); it is an upper bound, as it includes the save itself.

Memory: every 30 s the RSS (``VmRSS``) and CPU seconds of each process of the stack, from /proc; the slope is a
least-squares fit over the samples after the first five minutes (warm-up: caches filling).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.timing import pct

PY = sys.executable
REPO = Path(__file__).resolve().parents[1]
SAMPLE_EVERY = 0.02
RSS_EVERY = 30.0
SCALE = 0.005  # about 430 cases of the scenario month per drive; drives follow one another
CHILDREN = ("temporal", "worker", "projector", "web")


# ---- the sampler (a process of its own) ---------------------------------------------------------------


def _sample(events_db: str, rm_db: str, out: str, every: float) -> None:
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    ev = rm = None
    last: tuple[int, int, int] | None = None
    with open(out, "w", encoding="utf-8") as f:
        while not stop:
            t0 = time.monotonic()
            try:
                if ev is None or rm is None:
                    ev = sqlite3.connect(events_db, timeout=5, isolation_level=None)
                    rm = sqlite3.connect(rm_db, timeout=5, isolation_level=None)
                head = int(ev.execute("SELECT max(rowid) FROM stored_events").fetchone()[0] or 0)
                pos = dict(rm.execute("SELECT name, notification_id FROM projection_tracking").fetchall())
                t = time.time()
            except sqlite3.OperationalError:  # not created yet, or busy: look again
                ev = rm = None
                time.sleep(every)
                continue
            row = (head, int(pos.get("cases", 0)), int(min(pos.values())) if pos else 0)
            if row != last:
                f.write(f"{t:.4f} {row[0]} {row[1]} {row[2]}\n")
                f.flush()
                last = row
            time.sleep(max(0.0, every - (time.monotonic() - t0)))


def read_samples(path: Path) -> list[tuple[float, int, int, int]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        t, h, c, a = line.split()
        rows.append((float(t), int(h), int(c), int(a)))
    return rows


def pair(samples: list[tuple[float, int, int, int]]) -> dict[str, dict[int, float]]:
    """Per notification id after the first sample: when it was first seen committed, and when first seen
    visible in ``cases`` and in every read model."""
    first = samples[0][1]
    committed: dict[int, float] = {}
    cases: dict[int, float] = {}
    every: dict[int, float] = {}
    seen, vc, va = first, first, first
    for t, head, c, a in samples:
        top = max(head, c, a)  # a position read just after the head may be ahead of it
        for i in range(seen + 1, top + 1):
            committed[i] = t
        seen = max(seen, top)
        for i in range(vc + 1, c + 1):
            cases[i] = t
        vc = max(vc, c)
        for i in range(va + 1, a + 1):
            every[i] = t
        va = max(va, a)
    return {"committed": committed, "cases": cases, "all": every}


def event_times(events_db: Path, after: int) -> dict[int, float]:
    """Each stored event's own timestamp (the aggregate's, set before its save), as a Unix time."""
    import orjson

    out: dict[int, float] = {}
    with sqlite3.connect(events_db) as db:
        for rowid, state in db.execute("SELECT rowid, state FROM stored_events WHERE rowid > ?", (after,)):
            ts = orjson.loads(state).get("timestamp")
            if isinstance(ts, dict):  # the library's transcoding: {"_type_": "datetime_iso", "_data_": "…"}
                ts = ts.get("_data_")
            if isinstance(ts, str):
                out[int(rowid)] = datetime.fromisoformat(ts).timestamp()
    return out


def figures(lags: list[float]) -> str:
    s = sorted(lags)
    if not s:
        return "no events"
    return (
        f"n={len(s)} p50 {pct(s, 0.5):.3f} s, p95 {pct(s, 0.95):.3f} s, p99 {pct(s, 0.99):.3f} s, "
        f"max {s[-1]:.3f} s, ≤ 1 s: {sum(x <= 1 for x in s) / len(s):.1%}"
    )


def lag_report(samples: list[tuple[float, int, int, int]], events_db: Path, windows: int = 3) -> dict[str, Any]:
    p = pair(samples)
    committed, cases, every = p["committed"], p["cases"], p["all"]
    ids = sorted(i for i in cases if i in committed)
    lag_cases = [cases[i] - committed[i] for i in ids]
    lag_all = [every[i] - committed[i] for i in sorted(every) if i in committed]
    stamps = event_times(events_db, samples[0][1])
    lag_stamp = [cases[i] - stamps[i] for i in ids if i in stamps]
    out: dict[str, Any] = {
        "events": len(ids),
        "cases": figures(lag_cases),
        "all": figures(lag_all),
        "stamp": figures(lag_stamp),
        "windows": [],
    }
    if ids:
        t0, t1 = committed[ids[0]], committed[ids[-1]]
        span = max(t1 - t0, 1e-9)
        for w in range(windows):
            lo, hi = t0 + span * w / windows, t0 + span * (w + 1) / windows
            sel = [cases[i] - committed[i] for i in ids if lo <= committed[i] <= hi]
            out["windows"].append(f"minutes {(lo - t0) / 60:.0f}–{(hi - t0) / 60:.0f}: {figures(sel)}")
        out["rate"] = len(ids) / span
    return out


# ---- the stack and its processes ----------------------------------------------------------------------


def proc_stat(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds user+system) of one process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) in MiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    den = sum((x - mx) ** 2 for x, _ in points)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in points) / den * 3600


def archive(ref: str, under: Path) -> Path:
    """The code of git ``ref`` in a directory of its own (a same-run baseline of code before a change)."""
    d = under / f"code-{ref}"
    d.mkdir()
    tar = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(d)], input=tar, check=True)
    return d


def run(
    minutes: float, concurrency: int, idle: float | None, tag: str, idle_tail: float = 0, ref: str | None = None
) -> dict[str, Any]:
    from tests.faults.support import Drive, Up, embedded_env

    with tempfile.TemporaryDirectory(prefix=f"bench-lag-{tag.replace(' ', '')}-") as d:
        extra = {"ONESEAL_PROJECTOR_IDLE": str(idle)} if idle is not None else {}
        if ref is not None:  # the stack runs that commit's code: first on the path (and not the checkout's cwd)
            extra["PYTHONPATH"] = str(archive(ref, Path(d)))
        env = embedded_env(Path(d), **extra)
        os.chdir(d)  # `python -m` puts the cwd first on the path: the stack's children must not see the checkout
        try:
            up = Up(env).start()
        finally:
            os.chdir(REPO)
        data = Path(env["ONESEAL_DATA_DIR"])
        samples_file = Path(d) / "samples.txt"
        sampler = subprocess.Popen(
            [PY, "-m", "bench.bench_lag", "_sample", str(data / "events.db"), str(data / "read_models.db"),
             str(samples_file), str(SAMPLE_EVERY)], cwd=REPO
        )  # fmt: skip
        load = [os.getloadavg()[0]]
        rss: dict[str, list[tuple[float, float, float]]] = {name: [] for name in CHILDREN}
        pids: dict[str, set[int]] = {name: set() for name in CHILDREN}
        drives: list[dict[str, Any]] = []
        t0 = time.monotonic()
        end = t0 + minutes * 60
        next_rss = t0

        def take_rss() -> None:
            nonlocal next_rss
            for c in up.status()["children"]:
                if c["name"] in rss and c["pid"]:
                    pids[c["name"]].add(c["pid"])
                    try:
                        m, cpu = proc_stat(c["pid"])
                    except (FileNotFoundError, ProcessLookupError):
                        continue
                    rss[c["name"]].append((time.monotonic() - t0, m, cpu))
            load.append(os.getloadavg()[0])
            print(
                f"  {(time.monotonic() - t0) / 60:5.1f} min: "
                + ", ".join(f"{n} {v[-1][1]:.0f} MiB" for n, v in rss.items() if v)
                + f"; load {load[-1]:.1f}",
                flush=True,
            )
            next_rss += RSS_EVERY

        try:
            time.sleep(2)  # the sampler's first look is the starting point
            k = 0
            while time.monotonic() < end:
                drive = Drive(env, scale=SCALE, concurrency=concurrency, tag=f"drive{k}")
                while drive.proc.poll() is None and time.monotonic() < end:
                    if time.monotonic() >= next_rss:
                        take_rss()
                    time.sleep(0.5)
                if drive.proc.poll() is None:  # time is up: interrupt it (its cases stay in the store)
                    drive.proc.send_signal(signal.SIGINT)
                    try:
                        drive.proc.wait(30)
                    except subprocess.TimeoutExpired:
                        drive.proc.kill()
                        drive.proc.wait()
                    drives.append({"interrupted": True})
                else:
                    if drive.proc.returncode != 0:
                        raise RuntimeError(f"drive {k} failed ({drive.proc.returncode}): {drive.stderr[-2000:]}")
                    drives.append(drive.report())
                k += 1
            take_rss()
            time.sleep(3)  # let the projector finish the last commits before the sampler stops
            idle_cpu = None
            if idle_tail:  # what the idle poll costs: the projector's CPU with nothing to project
                pid = next(c["pid"] for c in up.status()["children"] if c["name"] == "projector")
                before = proc_stat(pid)[1]
                time.sleep(idle_tail)
                idle_cpu = (proc_stat(pid)[1] - before) / idle_tail
        finally:
            sampler.terminate()
            sampler.wait(10)
            restarts = {c["name"]: c["restarts"] for c in up.status()["children"]}
            up.stop()
        lag = lag_report(read_samples(samples_file), data / "events.db")
        with sqlite3.connect(data / "events.db") as db:
            submitted = int(
                db.execute("SELECT count(*) FROM stored_events WHERE topic LIKE '%:Case.Submitted'").fetchone()[0]
            )
    return {
        "tag": tag, "ref": ref, "minutes": minutes, "concurrency": concurrency, "idle": idle, "lag": lag, "rss": rss,
        "pids": {k: sorted(v) for k, v in pids.items()}, "restarts": restarts, "drives": drives,
        "submitted": submitted, "load": load, "idle_cpu": idle_cpu,
    }  # fmt: skip


def header(concurrency: int) -> str:
    return (
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; drive aba-2020-04 × {SCALE} per drive, concurrency {concurrency}, "
        f"sampling every {SAMPLE_EVERY * 1000:.0f} ms"
    )


def print_lag(r: dict[str, Any]) -> None:
    lag = r["lag"]
    load = r["load"]
    print(
        f"[{r['tag']}] {'code of ' + r['ref'] if r.get('ref') else 'this code'}, "
        f"projector idle poll {r['idle'] if r['idle'] is not None else 'default'} s, "
        f"{r['minutes']:g} min, {r['submitted']} cases submitted, {lag['events']} events "
        f"({lag.get('rate', 0):.1f} events/s), load {min(load):.1f}–{max(load):.1f}, restarts {r['restarts']}"
    )
    print(f"  commit → visible (cases):              {lag['cases']}")
    print(f"  commit → visible (all read models):    {lag['all']}")
    print(f"  event timestamp → visible (cases):     {lag['stamp']}")
    for w in lag["windows"]:
        print(f"  {w}")
    proj = r["rss"]["projector"]
    if len(proj) >= 2:
        cpu = proj[-1][2] - proj[0][2]
        print(f"  projector CPU {cpu:.1f} s over {(proj[-1][0] - proj[0][0]) / 60:.1f} min of drive")
    if r.get("idle_cpu") is not None:
        print(f"  projector CPU with nothing to project: {r['idle_cpu'] * 100:.2f} % of a core")


def print_memory(r: dict[str, Any]) -> None:
    print("| process | start MiB | middle MiB | end MiB | peak MiB | slope after 5 min (MiB/h) | CPU s | pids |")
    print("|---|---|---|---|---|---|---|---|")
    for name, v in r["rss"].items():
        if not v:
            continue
        mid = v[len(v) // 2]
        after = [(t, m) for t, m, _ in v if t >= 300]
        print(
            f"| {name} | {v[0][1]:.0f} | {mid[1]:.0f} ({mid[0] / 60:.0f} min) | {v[-1][1]:.0f} ({v[-1][0] / 60:.0f} min) "
            f"| {max(m for _, m, _ in v):.0f} | {slope(after):+.1f} | {v[-1][2]:.0f} | {r['pids'][name]} |"
        )
    print("  samples (min: MiB): " + "; ".join(
        f"{name} " + ", ".join(f"{t / 60:.0f}:{m:.0f}" for t, m, _ in v[:: max(1, len(v) // 12)])
        for name, v in r["rss"].items() if v
    ))  # fmt: skip


def main() -> None:
    from workers.logging import configure_logging

    configure_logging("console", level=40)
    cmd = sys.argv[1] if len(sys.argv) > 1 else "soak"
    if cmd == "_sample":
        _sample(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
        return
    out = Path(tempfile.gettempdir()) / f"bench_lag_{cmd}_{datetime.now(UTC):%H%M%S}.json"
    if cmd == "soak":
        minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 30
        concurrency = int(sys.argv[3]) if len(sys.argv) > 3 else 4
        print(header(concurrency), flush=True)
        r = run(minutes, concurrency, None, "soak")
        out.write_text(json.dumps(r, ensure_ascii=False))
        print(header(concurrency))
        print_lag(r)
        print_memory(r)
    elif cmd == "idle":
        minutes = float(sys.argv[2]) if len(sys.argv) > 2 else 5
        # each leg: IDLE, or REF:IDLE to run the stack on the code of git REF (e.g. main:0.2,HEAD:0.05,main:0.2)
        legs = (sys.argv[3] if len(sys.argv) > 3 else "0.2,0.05,0.2").split(",")
        concurrency = int(sys.argv[4]) if len(sys.argv) > 4 else 4
        print(header(concurrency), flush=True)
        results = []
        for k, leg in enumerate(legs):
            ref, _, idle = leg.rpartition(":")
            results.append(run(minutes, concurrency, float(idle), f"leg {k + 1}", idle_tail=60, ref=ref or None))
            print_lag(results[-1])
        out.write_text(json.dumps(results, ensure_ascii=False))
        print(header(concurrency))
        for r in results:
            print_lag(r)
    else:
        raise SystemExit(__doc__)
    print(f"raw results: {out}")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
