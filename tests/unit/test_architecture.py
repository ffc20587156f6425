"""Dependencies point inwards, for every package: domain ← workflows, projections ← services ← workers, entrypoints.

Entrypoints only translate: they reach the store, the read models and Temporal through the services,
never by importing eventsourcing, SQLAlchemy or the Temporal SDK themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = {"domain", "workflows", "projections", "services", "workers", "entrypoints"}
ALLOWED = {
    "domain": {"domain"},
    "workflows": {"domain", "workflows"},
    "projections": {"domain", "projections"},
    "services": {"domain", "workflows", "projections", "services"},
    "workers": {"domain", "workflows", "projections", "services", "workers"},
    "entrypoints": {"domain", "services", "workers", "entrypoints"},
}
FORBIDDEN_THIRD_PARTY = {
    "domain": {"temporalio", "sqlalchemy", "psycopg", "typer", "rich", "fastapi"},
    "entrypoints": {"eventsourcing", "sqlalchemy", "psycopg", "temporalio"},
    "projections": {"temporalio", "typer", "rich"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_every_package_is_checked() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == set(ALLOWED)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_inwards(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        found = imported_packages(path)
        bad = (found & OURS) - ALLOWED[package]
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"
        third = found & FORBIDDEN_THIRD_PARTY.get(package, set())
        assert not third, f"{path.relative_to(ROOT)} imports {third}"


@pytest.mark.parametrize("path", sorted(p for p in (ROOT / "workflows").glob("*.py") if "activities" not in p.name),
                         ids=lambda p: p.name)  # fmt: skip
def test_workflow_modules_read_no_wall_clock(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for forbidden in ("datetime.now", "datetime.utcnow", "time.time(", "uuid4(", "random."):
        assert forbidden not in source, f"{path.name}: {forbidden}"
