"""Helpers for integration tests: staff from the demo directory, case numbers, steps, event and history checks."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from domain.cases.application import TimelineEntry
from domain.cases.model import CaseView
from domain.cases.steps import StepRequest
from domain.staff import Actor, Post, default_staff, service_centre
from services.cases import CaseService

HISTORIES = Path(__file__).parent.parent / "histories"

MATTER = "513221-SCJG-001"  # 汶川县 食品经营许可: 5 materials, promised 5 working days
REGION = "汶川县"
DEPARTMENT = "汶川县市场监督管理局"


def staff(post: Post, department: str | None = None, region: str = REGION, backup: bool = False) -> Actor:
    dept = department or (service_centre(region) if post is not Post.REVIEWER else DEPARTMENT)
    found = [a for a in default_staff().all() if (a.department, a.post, a.region) == (dept, post.value, region)]
    return sorted(found, key=lambda a: a.user_id)[1 if backup and len(found) > 1 else 0]


FRONT = staff(Post.FRONT_DESK)
REVIEWER = staff(Post.REVIEWER)
OUTPUT = staff(Post.OUTPUT_WINDOW)


def new_case_no(kind: str) -> str:
    return f"T{kind[:2].upper()}-{uuid.uuid4().hex[:10]}"


async def take(service: CaseService, case_no: str, request: StepRequest) -> CaseView:
    """One staff step through the service layer (no projector runs in these tests: no read-your-writes)."""
    return (await service.step(case_no, request, read_your_writes=False)).case


def event_names(history: list[TimelineEntry]) -> list[str]:
    return [h.event for h in history]


async def history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len((await handle.fetch_history()).events)


async def record_history(handle: WorkflowHandle[Any, Any], branch: str) -> None:
    """With ONESEAL_RECORD_HISTORIES=1, keep this branch's history for the replay tests."""
    if os.environ.get("ONESEAL_RECORD_HISTORIES") != "1":
        return
    path = HISTORIES / f"{branch}.json"
    if path.exists():
        return  # a recorded history is the released version's: it must keep replaying, never be re-recorded
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1), encoding="utf-8")


def seed_live_cases(app: Any, n: int, *, seed: int = 7, chunk: int = 250) -> int:
    """Record ``n`` cases through the Case aggregate itself (no Temporal); return the events recorded."""
    from domain.cases.scenario import live_cases

    events, batch = 0, []
    for case in live_cases(app.catalogue, app.calendar, n, seed=seed):
        events += len(case.pending_events)
        batch.append(case)
        if len(batch) >= chunk:
            app.save(*batch)
            batch = []
    if batch:
        app.save(*batch)
    return events
