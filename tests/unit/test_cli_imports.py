"""What a CLI call imports before it does anything: each test runs one command in a fresh interpreter.

Every `oneseal` call pays its imports in CPU (the suite makes hundreds of them): parsing arguments,
``--help`` and ``status`` load no SDK, and reading cases never loads the Temporal client, the workflows
or the metrics (docs/performance.md, "CLI start-up").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Not checked: eventsourcing.application, which `oneseal user`'s help text brings along with services.identity
# (a few milliseconds), and the domain's aggregates (imported with their packages, for option choices).
SDKS = ("temporalio", "sqlalchemy", "prometheus_client", "structlog", "fastapi", "psycopg")
TEMPORAL = ("temporalio", "workflows.case", "workflows.contracts", "prometheus_client", "fastapi")

RUN = """
import json, sys
from entrypoints.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def loaded(tmp_path: Path, *args: str) -> set[str]:
    """The modules loaded once ``oneseal ARGS`` has run (stdout's last line), on an empty data dir."""
    env = {"PATH": "/usr/bin:/bin", "ONESEAL_DATA_DIR": str(tmp_path / "empty"), "COLUMNS": "120"}
    r = subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=60)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return set(json.loads(r.stdout.strip().splitlines()[-1]))


def under(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize("args", [("--help",), ("case", "--help"), ("--version",), ("status", "--json")],
                         ids=" ".join)  # fmt: skip
def test_help_version_and_status_load_no_sdk(tmp_path: Path, args: tuple[str, ...]) -> None:
    assert under(loaded(tmp_path, *args), SDKS) == []


def test_reading_cases_loads_neither_temporal_nor_the_metrics(tmp_path: Path) -> None:
    modules = loaded(tmp_path, "case", "list")  # refused (DATA_DIR_EMPTY) after the service is built
    assert "services.cases" in modules
    assert under(modules, TEMPORAL) == []


def test_old_case_topics_resolve_before_the_aggregates_are_imported() -> None:
    """Events recorded before the move to domain/cases/ name ``domain.case`` and ``domain.history``."""
    code = """
import sys
import domain.cases.model
from eventsourcing.utils import resolve_topic
assert "domain.cases.case" not in sys.modules
submitted, imported = resolve_topic("domain.case:Case.Submitted"), resolve_topic("domain.history:HistoricalCase.Imported")
from domain.cases.case import Case
from domain.cases.legacy import HistoricalCase
assert submitted is Case.Submitted and imported is HistoricalCase.Imported
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
