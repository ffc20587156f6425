"""Helpers for integration tests: staff from the demo directory, case numbers, event and history checks."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

from domain.staff import Actor, Post, default_staff, service_centre

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


def event_names(history: list[dict[str, Any]]) -> list[str]:
    return [h["event"] for h in history]


async def history_length(handle: WorkflowHandle[Any, Any]) -> int:
    return len((await handle.fetch_history()).events)


async def record_history(handle: WorkflowHandle[Any, Any], branch: str) -> None:
    """With ONESEAL_RECORD_HISTORIES=1, keep this branch's history for the replay tests."""
    if os.environ.get("ONESEAL_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    data = json.loads(history.to_json())
    (HISTORIES / f"case_{branch}.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
