"""A clerk's day through the real CLI against `oneseal up` (dev server + worker), stopped and resumed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.ports import free_port
from workflows.search_attributes import dev_server_args

pytestmark = pytest.mark.integration
ONESEAL = str(Path(sys.executable).parent / "oneseal")
FRONT, REVIEWER, OUTPUT = "513221-qt-a", "513221-scjg-a", "513221-cj-a"
MATTER = "513221-SCJG-001"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Up:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc: subprocess.Popen[str] | None = None
        self.output = ""

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [ONESEAL, "up"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            self.output += line
            if "试一试" in line:
                return
            if not line and self.proc.poll() is not None:
                break
        raise AssertionError(f"oneseal up did not start:\n{self.output}")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        rest, _ = self.proc.communicate(timeout=60)
        self.output += rest
        assert self.proc.returncode == 0, self.output


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ONESEAL, *args], env=env, capture_output=True, text=True, timeout=120)


def embedded_env(tmp_path: Path) -> tuple[dict[str, str], int]:
    """Environment for an embedded stack of its own: fresh data dir, free ports, no external Temporal."""
    port = free_port()
    env = {**os.environ, "ONESEAL_DATA_DIR": str(tmp_path / "var"), "ONESEAL_DEV_SERVER_PORT": str(port),
           "ONESEAL_DEV_SERVER_UI_PORT": str(free_port()), "ONESEAL_WEB_PORT": str(free_port()), "COLUMNS": "200"}  # fmt: skip
    env.pop("ONESEAL_TEMPORAL_ADDRESS", None)
    return env, port


def test_clerk_takes_a_case_through_every_step_across_a_restart(tmp_path: Path) -> None:
    env, port = embedded_env(tmp_path)
    up = Up(env)
    up.start()
    try:
        assert f"127.0.0.1:{port}" in up.output and "事件库" in up.output
        r = cli(
            env,
            "case",
            "submit",
            "--matter",
            MATTER,
            "--applicant",
            "某某餐饮店",
            "-m",
            "营业执照复印件",
            "--as",
            FRONT,
            "--json",
        )
        assert r.returncode == 0, r.stderr
        case_no = json.loads(r.stdout)["case_no"]
        # A refused step: clear Chinese message, stable code, non-zero exit, nothing written.
        r = cli(env, "case", "accept", case_no, "--as", FRONT)
        assert r.returncode == 2 and "请先一次性告知补正" in r.stderr and "CASE_ILLEGAL_TRANSITION" in r.stderr
        r = cli(env, "case", "submit", "--matter", "NOPE", "--applicant", "x", "--as", FRONT)
        assert r.returncode == 2 and "MATTER_UNKNOWN" in r.stderr
        assert len(json.loads(cli(env, "case", "history", case_no, "--json").stdout)) == 1
        for args in (
            ("notice", case_no, "--as", FRONT),
            ("supplement", case_no, "--as", FRONT),
            ("accept", case_no, "--as", FRONT),
        ):
            r = cli(env, "case", *args)
            assert r.returncode == 0, r.stderr
    finally:
        up.stop()
    assert "OneSeal 已停止" in up.output
    assert not port_open(port)  # the dev server went down with the stack
    # Every log line of a step carries the case number and the workflow id.
    step_lines = [
        ln for ln in (tmp_path / "var" / "logs" / "worker.log").read_text().splitlines() if "event='case." in ln
    ]
    assert len(step_lines) >= 8
    assert all(f"case_no='{case_no}'" in ln and f"workflow_id='case-{case_no}'" in ln for ln in step_lines)
    up = Up(env)
    up.start()  # same data dir: the open case resumes
    try:
        for args in (
            ("suspend", case_no, "--reason", "testing", "--as", REVIEWER),
            ("resume", case_no, "--as", REVIEWER),
            ("decide", case_no, "--outcome", "grant", "--as", REVIEWER),
            ("deliver", case_no, "--as", OUTPUT),
        ):
            r = cli(env, "case", *args)
            assert r.returncode == 0, r.stderr
        shown = json.loads(cli(env, "case", "show", case_no, "--json").stdout)
        assert shown["case"]["status"] == "completed"
        assert [e["event"] for e in shown["timeline"]] == [
            "Submitted",
            "CorrectionNoticeIssued",
            "Supplemented",
            "Accepted",
            "ClockSuspended",
            "ClockResumed",
            "Decided",
            "Delivered",
            "Completed",
        ]
        text = cli(env, "case", "show", case_no).stdout
        assert "已办结" in text and "承诺办结期限" in text
        listed = json.loads(cli(env, "case", "list", "--json").stdout)
        assert [c["case_no"] for c in listed] == [case_no]
    finally:
        up.stop()


def test_external_temporal_address_starts_no_dev_server(tmp_path: Path) -> None:
    """With ONESEAL_TEMPORAL_ADDRESS set, `oneseal up` uses that server and starts none of its own."""
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "temporal"),
            "server",
            "start-dev",
            "--headless",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "error",
            *dev_server_args(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_open(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        env = {
            **os.environ,
            "ONESEAL_DATA_DIR": str(tmp_path / "var"),
            "ONESEAL_TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
            "COLUMNS": "200",
        }
        up = Up(env)
        up.start()
        try:
            assert "（外部）" in up.output and "Temporal UI" not in up.output
            r = cli(
                env,
                "case",
                "submit",
                "--matter",
                MATTER,
                "--applicant",
                "某某",
                "--all-materials",
                "--as",
                FRONT,
                "--json",
            )
            assert r.returncode == 0, r.stderr
        finally:
            up.stop()
        assert not (tmp_path / "var" / "temporal.db").exists()
        assert port_open(port)  # the external server is not ours to stop
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_scenario_drive_through_real_workflows_matches_the_bulletin(tmp_path: Path) -> None:
    """A small share of the month through real CaseWorkflows; the bulletin moves by what the driver did."""
    env, _ = embedded_env(tmp_path)
    up = Up(env)
    up.start()
    try:
        r = cli(env, "scenario", "drive", "aba-2020-04", "--scale", "0.0005", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        result = json.loads(r.stdout)
        assert result["match"] is True
        assert result["driver"]["accepted"] >= 40 and result["driver"]["corrections"] >= 1
        assert result["bulletin_delta"] == {
            "accepted": result["driver"]["accepted"],
            "completed": result["driver"]["completed"],
        }
        listed = json.loads(cli(env, "case", "list", "--json", "--limit", "1000").stdout)
        assert len(listed) == result["driver"]["submitted"]
        # Demonstration cases stay out of the month's bulletin unless asked for.
        month = result["month"]
        plain = json.loads(cli(env, "report", "bulletin", "--month", month, "--format", "json").stdout)
        assert plain["prefecture_wide"]["accepted"] == 0 and plain["include_demo"] is False
        demo = json.loads(cli(env, "report", "bulletin", "--month", month, "--format", "json", "--include-demo").stdout)
        assert demo["prefecture_wide"]["accepted"] == result["driver"]["accepted"]
        # Parallel approval: demonstration projects through all four stages of the real workflow.
        r = cli(env, "scenario", "drive-projects", "--count", "1", "--json")
        assert r.returncode == 0, r.stdout + r.stderr
        driven = json.loads(r.stdout)
        assert driven["match"] is True and driven["driver"]["corrections"] == 1
        assert driven["bulletin_delta"]["projects"] == 1
        official = json.loads(cli(env, "report", "bulletin", "--month", driven["month"], "--format", "json").stdout)
        assert official["parallel_approval"]["prefecture_wide"]["projects"] == 0  # demo projects stay out
    finally:
        up.stop()
