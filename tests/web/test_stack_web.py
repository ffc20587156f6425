"""`oneseal up` serves the web app beside the dev server, worker and projector: its address in the banner,
the state file and `oneseal status`; on a fresh data dir one admin whose password is in a 0600 file."""

from __future__ import annotations

import json
import re
import stat
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from services.bootstrap import Bootstrap
from services.settings import Settings
from tests.e2e.test_stack_cli import MATTER, Up, cli, embedded_env

pytestmark = pytest.mark.integration


def test_up_serves_the_web_app_and_creates_the_first_admin(tmp_path: Path) -> None:
    env, _ = embedded_env(tmp_path)
    url = f"http://127.0.0.1:{env['ONESEAL_WEB_PORT']}"
    data_dir = Path(env["ONESEAL_DATA_DIR"])
    up = Up(env)
    up.start()
    try:
        assert url in up.output, up.output
        secret_file = data_dir / "admin-password.txt"
        assert str(secret_file) in up.output
        for private in (secret_file, data_dir / "web-secret"):
            assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
        user, password = secret_file.read_text(encoding="utf-8").split()
        assert user == "admin"
        status = json.loads(cli(env, "status", "--json").stdout)
        assert status["web"] == url and {c["name"] for c in status["children"]} >= {"web"}

        http = httpx.Client(base_url=url, timeout=30)
        assert http.post("/api/cases", json={"matter_code": MATTER, "applicant": "甲"}).status_code == 401
        assert len(http.get("/openapi.json").json()["paths"]) >= 20
        page = http.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert csrf
        r = http.post("/login", data={"csrf_token": csrf.group(1), "username": user, "password": password})
        assert r.status_code == 303
        assert http.get("/api/me").json()["roles"] == ["system_admin"]

        # The server's CLI still acts with --as, and the events say it came that way.
        done = cli(env, "case", "submit", "--matter", MATTER, "--applicant", "甲", "--all-materials",
                   "--as", "513221-qt-a", "--case-no", "CLI-1")  # fmt: skip
        assert done.returncode == 0, done.stderr
        history = json.loads(cli(env, "case", "history", "CLI-1", "--json").stdout)
        assert history[0]["actor"]["via"] == "cli"
        assert cli(env, "scenario", "load", "demo-staff").returncode == 0
        users = json.loads(cli(env, "user", "list", "--json").stdout)
        assert {"admin", "513221-qt-a"} <= {u["username"] for u in users}
    finally:
        up.stop()
    # Accounts exist now: a second start creates no second admin.
    settings = replace(Settings.from_env(), data_dir=data_dir, event_store_url=str(data_dir / "events.db"))
    assert Bootstrap(settings).identity.ensure_admin() is None
