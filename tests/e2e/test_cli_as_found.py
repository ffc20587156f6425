"""The CLI as a new user found it (issue 6): each defect re-run as it was seen, at 80 columns."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .test_stack_cli import ONESEAL, Up, cli, embedded_env

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
FRONT, REVIEWER, OUTPUT = "513221-qt-a", "513221-scjg-a", "513221-cj-a"
MATTER = "513221-SCJG-001"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    e, _ = embedded_env(tmp_path_factory.mktemp("as-found"))
    e["COLUMNS"] = "80"
    up = Up(e)
    up.start()
    try:
        yield e
    finally:
        up.stop()


def ok(env: dict[str, str], *args: str) -> str:
    r = cli(env, *args)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def refused(env: dict[str, str], *args: str, code: str, exit_code: int = 2) -> str:
    r = cli(env, *args)
    assert r.returncode == exit_code and code in r.stderr, r.stdout + r.stderr
    return r.stderr


def submit(env: dict[str, str], *extra: str) -> str:
    out = ok(env, "case", "submit", "--matter", MATTER, "--applicant", "某某餐饮店", "--as", FRONT, "--json", *extra)
    return str(json.loads(out)["case_no"])


def test_bad_names_and_numbers_are_refused_and_never_echoed_raw(env: dict[str, str]) -> None:
    """Defect 5."""
    base = ("case", "submit", "--matter", MATTER, "--as", FRONT, "--all-materials")
    err = refused(env, *base, "--applicant", "某某\x1b[31m餐饮", code="FIELD_INVALID")
    assert "\x1b" not in err and "控制字符" in err
    assert "文字方向" in refused(env, *base, "--applicant", "某\u202e某", code="FIELD_INVALID")
    assert "过长" in refused(env, *base, "--applicant", "某" * 5000, code="FIELD_INVALID")
    err = refused(env, *base, "--applicant", "某某", "--case-no", "汶川 001/ä", code="FIELD_INVALID")
    assert "英文字母、数字或连字符" in err
    refused(env, *base, "--applicant", "某某", "--case-no", "", code="FIELD_MISSING")
    # Markup in a name is shown as typed, not interpreted.
    no = submit(env, "-m", "营业执照复印件", "--applicant", "[red]某某[/red]店")
    assert "[red]某某[/red]店" in ok(env, "case", "show", no)


def test_each_step_prints_what_it_decided(env: dict[str, str]) -> None:
    """Defects 3, 8 and 9: the notice lists the materials, accept and resume print the deadline, show prints
    the decision and its reason, history is readable, a completed case says so when delivered again."""
    no = submit(env, "-m", "营业执照复印件")
    out = ok(env, "case", "notice", no, "--as", FRONT)
    assert "食品经营许可申请书" in out and "食品安全管理制度" in out and "补正期限" in out
    ok(env, "case", "supplement", no, "--as", FRONT)
    assert "承诺办结期限" in ok(env, "case", "accept", no, "--as", FRONT)
    err = refused(env, "case", "suspend", no, "--reason", "随便", "--as", REVIEWER, code="FIELD_INVALID")
    assert "应为：hearing（听证）" in err and "Value error" not in err
    assert "检验检测" in ok(env, "case", "suspend", no, "--reason", "检验检测", "--note", "送检", "--as", REVIEWER)
    assert "承诺办结期限" in ok(env, "case", "resume", no, "--as", REVIEWER)
    ok(env, "case", "decide", no, "--outcome", "deny", "--reason", "场所不符合要求", "--as", REVIEWER)
    ok(env, "case", "deliver", no, "--as", OUTPUT)
    shown = ok(env, "case", "show", no)
    assert "决定：不予许可，理由：场所不符合要求" in shown and "承诺办结期限" in shown
    history = ok({**env, "COLUMNS": "200"}, "case", "history", no)  # wide: cells unwrapped for the check
    assert "{" not in history and "理由：检验检测" in history and "说明：送检" in history, history
    err = refused(env, "case", "deliver", no, "--as", OUTPUT, code="CASE_ILLEGAL_TRANSITION")
    assert "已结束（已办结）" in err and "不存在" not in err


def test_a_withdrawn_case_shows_no_acceptance_deadline(env: dict[str, str]) -> None:
    no = submit(env, "--all-materials")
    assert "法定受理答复期限" in ok(env, "case", "show", no)
    ok(env, "case", "withdraw", no, "--reason", "申请人撤回", "--as", FRONT)
    shown = ok(env, "case", "show", no)
    assert "法定受理答复期限" not in shown and "撤回理由：申请人撤回" in shown


def test_typos_are_refused_with_the_valid_values(env: dict[str, str]) -> None:
    """Defect 6."""
    submit(env, "--all-materials")
    assert "审查中" not in ok(env, "case", "list", "--status", "审查中").split("\n")[0]  # the label is accepted
    assert "under_review（审查中）" in refused(env, "case", "list", "--status", "foo", code="FIELD_INVALID")
    assert "汶川县" in refused(env, "case", "list", "--region", "不存在县", code="FIELD_INVALID")
    month = datetime.now(UTC).strftime("%Y-%m")
    refused(env, "report", "bulletin", "--month", month, "--region", "不存在县", code="FIELD_INVALID")
    refused(env, "report", "bulletin", "--month", "2020-4", code="MONTH_INVALID")


def test_tables_are_readable_at_80_columns(env: dict[str, str]) -> None:
    """Defect 9: codes people type are never cut; text cells keep their text; titles count what is stored."""
    submit(env, "--all-materials")
    submit(env, "--all-materials")
    codes = [m["code"] for m in json.loads(ok(env, "matters", "list", "--region", "汶川县", "--json"))]
    text = ok(env, "matters", "list", "--region", "汶川县")
    assert all(c in text for c in codes) and "…" not in text
    assert all(len(line) <= 80 for line in text.splitlines())
    listed = ok(env, "case", "list", "--limit", "1")
    assert "显示 1 / 共" in listed
    stats = ok(env, "report", "stats", "--month", datetime.now(UTC).strftime("%Y-%m"), "--include-demo")
    assert "汶川县市场" in stats.replace("\n", "").replace("│", "").replace(" ", "")
    staff = json.loads(ok(env, "staff", "list", "--region", "汶川县", "--json"))
    assert {"user_id", "name", "department", "post", "region"} <= set(staff[0])
    assert ok(env, "--version").startswith("oneseal ")


def test_the_data_directory_is_found_from_any_folder(tmp_path: Path) -> None:
    """Defect 10: no silent ./var; the checkout's var/ from anywhere, or the directory named and said empty."""
    env = {k: v for k, v in os.environ.items() if k != "ONESEAL_DATA_DIR"}
    import subprocess

    r = subprocess.run([ONESEAL, "status"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert str(ROOT / "var") in r.stdout + r.stderr
    assert not (tmp_path / "var").exists()
    empty = tmp_path / "empty"
    r = subprocess.run([ONESEAL, "case", "list"], cwd=tmp_path, env={**env, "ONESEAL_DATA_DIR": str(empty)},
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 3 and "DATA_DIR_EMPTY" in r.stderr and str(empty) in r.stderr
    assert not empty.exists()
