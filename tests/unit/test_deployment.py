"""The production files as the application sees them: docker-compose.yml validated by Debian's
docker-compose (which checks the file without a Docker engine; `make test` installs it), its services,
healthchecks and dependencies, every ONESEAL_* variable in it and in .env.example a setting the app reads,
and a Dockerfile that copies the package the way pyproject.toml builds it."""

from __future__ import annotations

import ast
import fnmatch
import inspect
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from entrypoints.cli import app as cli_app

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "workflows", "projections", "services", "workers", "entrypoints")
ONESEAL_VAR = re.compile(r"\bONESEAL_[A-Z0-9_]+\b")
LONG_RUNNING = {"postgres", "temporal", "temporal-ui", "worker", "projector", "projector-standby", "web"}
JOBS = {"temporal-schema", "temporal-namespace", "oneseal-setup"}


def compose(*args: str, env_file: Path = ROOT / ".env.example") -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.fail("docker-compose not found: `make test` installs Debian's docker-compose package")
    options = ["--env-file", str(env_file)]
    return subprocess.run([tool, "-f", "docker-compose.yml", *options, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    result = compose("config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def settings_the_app_reads() -> set[str]:
    """Every ONESEAL_* name that appears as a string in the application's code."""
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    names |= set(ONESEAL_VAR.findall(node.value))
                elif isinstance(node, ast.JoinedStr):  # f"ONESEAL_TEMPORAL_TLS_{n}"
                    prefix = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
                    names |= {m + "*" for m in ONESEAL_VAR.findall(prefix) if prefix.endswith(m)}
    return names


def read(name: str, names: set[str]) -> bool:
    return name in names or any(name.startswith(n[:-1]) for n in names if n.endswith("*"))


def test_compose_file_is_valid_without_an_engine() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_file_holds_no_secret(tmp_path: Path) -> None:
    """Without .env it refuses (the password has no default), so no secret lives in the file."""
    empty = tmp_path / ".env"
    empty.write_text("")
    result = compose("config", "-q", env_file=empty)
    assert result.returncode != 0 and "POSTGRES_PASSWORD" in result.stderr
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    secret_keys = re.findall(r"^\s*(\w*(?:PASSWORD|PWD|API_KEY|SECRET)\w*):\s*(.*)$", text, flags=re.M)
    assert secret_keys and all(value.startswith("${") for _, value in secret_keys), secret_keys
    assert "change-me" not in text and not re.search(r"postgresql://\w+:(?!\$\{)", text)


def test_services_healthchecks_and_dependencies(resolved: dict[str, Any]) -> None:
    services = resolved["services"]
    assert set(services) == LONG_RUNNING | JOBS
    for name in LONG_RUNNING - {"temporal-ui"}:
        assert "test" in services[name].get("healthcheck", {}), f"{name} has no healthcheck"
    for name, service in services.items():
        image = service.get("image", "")
        assert re.search(r":\d", image) and not image.endswith(":latest"), f"{name}: image {image} not pinned"
        for dep in service.get("depends_on", {}).values():
            assert dep["condition"] in ("service_healthy", "service_completed_successfully"), name

    def needs(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    assert needs("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert needs("temporal-schema") == {"postgres": "service_healthy"}
    assert needs("oneseal-setup") == {"temporal-namespace": "service_completed_successfully"}
    assert needs("worker") == {"postgres": "service_healthy", "oneseal-setup": "service_completed_successfully"}
    assert needs("web")["projector"] == "service_healthy"
    assert needs("projector-standby")["projector"] == "service_healthy"
    # The healthchecks probe the ports the configuration opens.
    for name in ("worker", "projector", "projector-standby"):
        port = services[name]["environment"]["ONESEAL_METRICS_PORT"]
        assert f":{port}/metrics" in " ".join(services[name]["healthcheck"]["test"])
    web = services["web"]
    assert f":{web['environment']['ONESEAL_WEB_PORT']}/healthz" in " ".join(web["healthcheck"]["test"])
    assert web["environment"]["ONESEAL_WEB_HOST"] == "0.0.0.0"


def test_oneseal_services_run_commands_of_the_cli(resolved: dict[str, Any]) -> None:
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in cli_app.registered_commands}
    for name, service in resolved["services"].items():
        if service.get("image", "").startswith("oneseal:"):
            command = service["command"][0]
            assert command in commands, f"{name}: oneseal {command} is no command"
    project = next(c for c in cli_app.registered_commands if c.name == "project")
    assert "standby" in inspect.signature(project.callback).parameters  # type: ignore[arg-type]


def test_every_oneseal_variable_is_a_setting_the_app_reads(resolved: dict[str, Any]) -> None:
    names = settings_the_app_reads()
    used: dict[str, set[str]] = {".env.example": set(ONESEAL_VAR.findall((ROOT / ".env.example").read_text()))}
    for name, service in resolved["services"].items():
        used[name] = {k for k in service.get("environment", {}) if k.startswith("ONESEAL_")}
    used["docker-compose.yml"] = set(ONESEAL_VAR.findall((ROOT / "docker-compose.yml").read_text()))
    for where, found in used.items():
        unknown = {n for n in found if not read(n, names)}
        assert not unknown, f"{where}: {sorted(unknown)} are read by nothing in the application"
    assert read("ONESEAL_TEMPORAL_TLS_CA", names)  # the f-string family is seen


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        p = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        if any(fnmatch.fnmatch("/".join(parts[: i + 1]), p) for i in range(len(parts))) or fnmatch.fnmatch(path, p):
            ignored = not negate
    return ignored


def test_dockerfile_builds_the_package_for_a_user_without_privileges() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2, "a build stage and a slim run stage"
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, flags=re.M)
    run_stage = stages[1]
    assert "COPY --from=build /opt/oneseal /opt/oneseal" in run_stage
    assert re.search(r"^USER 10001", run_stage, flags=re.M) and 'ENTRYPOINT ["oneseal"]' in run_stage
    for tool in ("apt-get", "gcc", "build-essential", "pip install"):
        assert tool not in run_stage, f"{tool} in the run stage"
    # Bytecode compiled at build, after the caches are cleared, valid however the files' times change.
    build_stage = stages[0]
    assert "compileall -q --invalidation-mode unchecked-hash /opt/oneseal/lib" in build_stage
    assert build_stage.index("-name '__pycache__'") < build_stage.index("compileall")
    # What the build stage copies is there, not excluded by .dockerignore, and is the whole package.
    ignore = [ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines() if ln.strip() and ln[0] != "#"]
    copied = [src for line in re.findall(r"^COPY (?!--)(.+)$", stages[0], flags=re.M) for src in line.split()[:-1]]
    for src in copied:
        assert (ROOT / src).exists(), src
        assert not dockerignored(src, ignore), f"{src} is excluded by .dockerignore"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert wanted == set(PACKAGES) and wanted <= set(copied)
    assert project["project"]["readme"] in copied
    for package, globs in project["tool"]["setuptools"]["package-data"].items():
        for glob in globs:
            files = list((ROOT / package).glob(glob))
            assert all(not dockerignored(str(f.relative_to(ROOT)), ignore) for f in files), glob
    for excluded in ("tests/conftest.py", "var/events.db", ".venv/bin/python", ".env", "bench/__init__.py"):
        assert dockerignored(excluded, ignore), excluded
