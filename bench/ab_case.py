"""A/B of one lever on the case leg and the same-shape-now leg, interleaved on one dev server.

Not a test: ``.venv/bin/python -m bench.ab_case LEVER [N] [ROUNDS]`` with LEVER one of ``converter`` (the
SDK's JSON encoding with hints resolved once, as before issue 10 item 2's payload lever, against orjson),
``bytecode`` (the sandbox compiling workflow modules from source, as under PYTHONDONTWRITEBYTECODE with no
.pyc, against compiled once), ``worker`` (build_worker's settings against the candidate settings below);
and four that bound what a cheaper workflow shape could give, as scratch variants (not code to keep):
``patches`` (every ``workflow.patched`` true without its marker and ``TemporalChangeVersion`` upsert),
``upserts`` (the case's own search-attribute upserts off), ``openclose`` (only the first upsert and the one
at the close), ``lean`` (no markers and no upserts).
Legs run A, B, B, A per round (so drift cancels); CPU per item (benchmark process + dev server) is printed
for each leg, as in bench_case_workflow.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.machinery
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import temporalio.workflow
from temporalio.client import Client
from temporalio.converter import (
    CompositePayloadConverter,
    DataConverter,
    DefaultPayloadConverter,
    JSONPlainPayloadConverter,
)
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import PollerBehaviorSimpleMaximum

import workers.worker
import workflows.search_attributes
from bench.bench_case_workflow import CONCURRENCY, case_setup, cpu, load, one_case, same_shape_now
from bench.timing import _bounded
from workers.logging import configure_logging
from workers.worker import build_worker
from workflows.converter import DATA_CONVERTER, DataclassHintsOnce
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES


class HintsOnlyConverter(CompositePayloadConverter):
    """The converter before the payload lever: the SDK's json encoding, type hints resolved once."""

    def __init__(self) -> None:
        super().__init__(
            *(
                JSONPlainPayloadConverter(custom_type_converters=[DataclassHintsOnce()])
                if isinstance(c, JSONPlainPayloadConverter)
                else c
                for c in DefaultPayloadConverter.default_encoding_payload_converters
            )
        )


HINTS_ONLY = DataConverter(payload_converter_class=HintsOnlyConverter)


async def case_leg(client: Client, n: int, data_dir: Path, worker_kwargs: dict[str, Any]) -> float:
    queue = f"ab-case-{uuid.uuid4().hex[:6]}"
    app, service, materials, actors = case_setup(client, queue, data_dir / f"{queue}.db")

    async def one(i: int) -> None:
        await one_case(service, f"A{i:06d}-{queue[-6:]}", materials, actors)

    plain = workers.worker.Worker
    workers.worker.Worker = functools.partial(plain, **worker_options(worker_kwargs))  # type: ignore[misc]
    try:
        worker = build_worker(client, app, queue)
    finally:
        workers.worker.Worker = plain  # type: ignore[misc]
    async with worker:
        t = time.perf_counter()
        await _bounded(n, CONCURRENCY, one)
        return time.perf_counter() - t


def worker_options(kwargs: dict[str, Any]) -> dict[str, Any]:
    """``wf_polls``/``act_polls`` as poller behaviours; the rest as Worker's own keyword arguments."""
    out = dict(kwargs)
    if "wf_polls" in out:
        out["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(out.pop("wf_polls"))
    if "threads" in out:  # build_worker's max_threads: activity threads and slots
        threads = out.pop("threads")
        out["activity_executor"] = ThreadPoolExecutor(max_workers=threads)
        out["max_concurrent_activities"] = threads
    if "act_polls" in out:
        out["activity_task_poller_behavior"] = PollerBehaviorSimpleMaximum(out.pop("act_polls"))
    return out


@contextmanager
def no_bytecode() -> Iterator[None]:
    """Modules compiled from source at every import, as under PYTHONDONTWRITEBYTECODE with no .pyc."""
    loader = importlib.machinery.SourceFileLoader
    original = loader.get_code

    def from_source(self: Any, fullname: str) -> Any:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    loader.get_code = from_source  # type: ignore[method-assign]
    try:
        yield
    finally:
        loader.get_code = original  # type: ignore[method-assign]


@contextmanager
def nothing() -> Iterator[None]:
    yield


def no_patch_markers() -> Any:
    """Every ``workflow.patched`` true without a marker or a ``TemporalChangeVersion`` upsert: what a case
    costs on a workflow type that needs no patches (the bound for a new type with the patched code only)."""
    return patch.object(temporalio.workflow, "patched", lambda _id: True)


def no_upserts() -> Any:
    """The case's own search-attribute upserts off (the bound for a case without them)."""
    return patch.object(workflows.search_attributes, "case_updates", lambda _case, _previous: [])


def upserts_at_open_and_close() -> Any:
    """The first upsert (identity and status) and the one at the close; none between (Overdue still)."""
    sa = workflows.search_attributes
    original = sa.case_updates

    def fewer(case: Any, previous: Any) -> Any:
        if previous is not None and previous.get(sa.CASE_NO) and not case.is_closed:
            return [u for u in original(case, previous) if u.key == sa.OVERDUE]
        return original(case, previous)

    return patch.object(sa, "case_updates", fewer)


@contextmanager
def lean() -> Iterator[None]:
    with no_patch_markers(), no_upserts():
        yield


Variant = tuple[str, DataConverter | None, dict[str, Any], Callable[[], Any]]

CANDIDATE_WORKER: dict[str, Any] = {}  # filled from the command line: key=value pairs


def variants(lever: str) -> tuple[Variant, Variant]:
    if lever == "converter":
        return ("hints only (SDK json)", HINTS_ONLY, {}, nothing), ("orjson", DATA_CONVERTER, {}, nothing)
    if lever == "bytecode":
        return ("compiled at each import", None, {}, no_bytecode), ("compiled once (.pyc)", None, {}, nothing)
    if lever == "worker":
        return ("build_worker defaults", None, {}, nothing), (
            f"worker {CANDIDATE_WORKER}",
            None,
            CANDIDATE_WORKER,
            nothing,
        )
    if lever == "patches":
        return ("as released", None, {}, nothing), ("no patch markers", None, {}, no_patch_markers)
    if lever == "upserts":
        return ("as released", None, {}, nothing), ("no own upserts", None, {}, no_upserts)
    if lever == "openclose":
        return ("as released", None, {}, nothing), ("upserts at open and close", None, {}, upserts_at_open_and_close)
    if lever == "lean":
        return ("as released", None, {}, nothing), ("no markers, no upserts", None, {}, lean)
    raise SystemExit(f"unknown lever {lever}")


async def main(lever: str, n: int, rounds: int) -> None:
    configure_logging("console", level=40)
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(Path(sys.executable).parent / "temporal"),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=DATA_CONVERTER,
    )
    a, b = variants(lever)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as d:
            for _ in range(rounds):
                for name, converter, worker_kwargs, context in (a, b, b, a):
                    client = env.client
                    if converter is not None:
                        client = Client(**{**env.client.config(), "data_converter": converter})
                    for leg in ("case", "now"):
                        if leg == "now" and worker_kwargs:
                            continue  # the baseline's worker is not build_worker's
                        with context():
                            before, (own0, server0) = load(), cpu()
                            if leg == "case":
                                t = await case_leg(client, n, Path(d), worker_kwargs)
                            else:
                                t, _ = await same_shape_now(client, n, Path(d))
                            own1, server1 = cpu()
                        per = ((own1 - own0) / n * 1000, (server1 - server0) / n * 1000)
                        results.setdefault((name, leg), []).append((n / t, per[0] + per[1]))
                        print(
                            f"  {name} / {leg}: {n / t:.1f}/s, CPU {per[0]:.0f} + {per[1]:.0f} ms/item "
                            f"(load {before:.1f} → {load():.1f})",
                            flush=True,
                        )
    finally:
        await env.shutdown()
    print(
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; lever {lever}; N={n}; rounds {rounds}; load {os.getloadavg()}"
    )
    for (name, leg), rows in results.items():
        rates, cpus = [r for r, _ in rows], [c for _, c in rows]
        print(
            f"| {name} | {leg} | {sum(rates) / len(rates):.1f} ({', '.join(f'{r:.1f}' for r in rates)}) "
            f"| {sum(cpus) / len(cpus):.0f} ({', '.join(f'{c:.0f}' for c in cpus)}) |"
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if "=" not in a]
    for kv in (a for a in sys.argv[1:] if "=" in a):
        k, v = kv.split("=", 1)
        CANDIDATE_WORKER[k] = int(v)
    asyncio.run(main(args[0], int(args[1]) if len(args) > 1 else 200, int(args[2]) if len(args) > 2 else 1))
