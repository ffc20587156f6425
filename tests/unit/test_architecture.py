"""Dependencies point inwards: the domain imports nothing of ours, workflows nothing outside domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"domain", "workflows", "projections", "workers", "entrypoints"}
ALLOWED = {"domain": {"domain"}, "workflows": {"domain", "workflows"}, "projections": {"domain", "projections"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names & OURS


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_inwards(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        bad = imported_packages(path) - ALLOWED[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_workflow_module_reads_no_wall_clock() -> None:
    source = (ROOT / "workflows" / "case_workflow.py").read_text(encoding="utf-8")
    for forbidden in ("datetime.now", "datetime.utcnow", "time.time(", "uuid4(", "random."):
        assert forbidden not in source
