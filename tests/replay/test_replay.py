"""Recorded histories of every branch of every workflow replay on the current code without nondeterminism.

This guards released workflows: a change that is not wrapped in ``workflow.patched`` fails here.
Re-record (only when adding a branch) with ``ONESEAL_RECORD_HISTORIES=1 make test``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from workers.worker import WORKFLOWS
from workflows.converter import DATA_CONVERTER

HISTORIES = sorted((Path(__file__).parent.parent / "histories").glob("*.json"))
BRANCHES = {
    "happy_path",
    "correction_then_accept",
    "correction_timeout",
    "deemed_acceptance",
    "suspension",
    "overdue",
    "withdrawal",
    "adopted",
    "deadline_recomputed",
    "search_attributes",  # the search-attributes patch: upserts as the status changes
    "rerouted_at_acceptance",  # the matter changed authority between submission and acceptance
    "supervision_task",  # the supervision-task patch: a bureau decision starts SupervisionWorkflow
    "short_command_timeout",  # the short-command-timeout patch: 10 s start-to-close per command
    "one_command_then",  # submitted by Update-with-Start; the one-command-then patch: 出件 + 办结 in one command
}
PARALLEL_BRANCHES = {
    "all_agree",
    "merged_notice",
    "escalated",
    "deemed_consent_override",
    "denied",
    "reform_overdue",
    "adopted",
}

TRANSFER_BRANCHES = {
    "programme",  # six items, two batches, closed
    "item_live",
    "item_extended",
    "item_rolled_back",
    "item_removed",
    "supervision_claimed",
    "supervision_overdue",
}


def test_every_branch_has_a_recorded_history() -> None:
    assert {p.stem.removeprefix("case_") for p in HISTORIES if p.stem.startswith("case_")} >= BRANCHES
    assert {p.stem.removeprefix("parallel_") for p in HISTORIES if p.stem.startswith("parallel_")} >= PARALLEL_BRANCHES
    assert {p.stem.removeprefix("transfer_") for p in HISTORIES if p.stem.startswith("transfer_")} >= TRANSFER_BRANCHES


# The workers' converter (orjson, UTF-8) must read the payloads the SDK's default one recorded, and the
# default one (a worker of an older release) what ours records.
CONVERTERS = {"ours": DATA_CONVERTER, "sdk": DataConverter.default}


@pytest.mark.parametrize("converter", CONVERTERS)
@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_history_replays(path: Path, converter: str) -> None:
    history = WorkflowHistory.from_json(f"replay-{path.stem}", json.loads(path.read_text(encoding="utf-8")))
    replayer = Replayer(workflows=WORKFLOWS, data_converter=CONVERTERS[converter])
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, result.replay_failure
