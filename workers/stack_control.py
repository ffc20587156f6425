"""`oneseal status` and `oneseal down`: ask the running `oneseal up` of a data dir, or stop it.

Whether a stack runs is decided by the data-dir lock, never by the state file alone: a state file
whose lock is free was left by a stack that crashed, and is reported (and, by `down`, removed).
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from services.settings import Settings
from workers.stack_state import beijing, lock_is_held, read_holder, read_state, remove_state, state_path

EXIT_RUNNING = 0
EXIT_NOT_RUNNING = 3  # status: nothing runs on this data dir
EXIT_DOWN_TIMEOUT = 1  # down: the stack did not stop in time


def _since(iso: str | None) -> str:
    try:
        seconds = int((datetime.now().astimezone() - datetime.fromisoformat(iso or "")).total_seconds())
    except ValueError:
        return ""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} 小时 {minutes} 分" if hours else f"{minutes} 分 {secs} 秒"


def read_model_lag(settings: Settings) -> list[dict[str, Any]] | str:
    """Each projection's position against the store's head, or why it could not be read (never a traceback)."""
    from domain.errors import DomainError
    from services.bootstrap import Bootstrap

    try:
        rows = Bootstrap(settings).projections.status()
    except DomainError as e:
        return e.message
    except Exception as e:  # a corrupt or missing read model is reported, not raised
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return f"{type(e).__name__}: {first[:200]}"
    return [{"name": r.name, "position": r.position, "head": r.head, "lag": r.lag} for r in rows]


def status_report(settings: Settings) -> dict[str, Any]:
    """What `status --json` prints: the state file plus ``running``, ``stale`` and ``projections`` (lag)."""
    data_dir = settings.data_dir
    state = read_state(data_dir)
    if lock_is_held(data_dir):
        report: dict[str, Any] = {"running": True, "data_dir": str(data_dir), **(state or {})}
        if state is None:  # the stack is still writing its first state
            holder = read_holder(data_dir)
            report.update(pid=holder.pid, started_at=holder.started_at, state="starting", children=[])
        report["projections"] = read_model_lag(settings)
        return report
    return {"running": False, "data_dir": str(data_dir), "stale": state}


def status(settings: Settings, as_json: bool = False) -> int:
    """Print what runs on this data dir; 0 when up, 3 when not."""
    report = status_report(settings)
    if as_json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return EXIT_RUNNING if report["running"] else EXIT_NOT_RUNNING
    if not report["running"]:
        print(f"OneSeal 未运行（数据目录 {settings.data_dir}）。启动：oneseal up")
        stale = report["stale"]
        if stale:
            print(
                f"  上次的 OneSeal（进程 {stale.get('pid')}，自 {beijing(stale.get('started_at'))} 起）未正常停止，"
                f"留下的状态文件 {state_path(settings.data_dir)} 已过期"
            )
        return EXIT_NOT_RUNNING
    print(_render(report))
    return EXIT_RUNNING


def _pad(text: str, width: int) -> str:
    """Pad to a terminal width: a Chinese character takes two columns."""
    from rich.cells import cell_len

    return text + " " * max(1, width - cell_len(text))


def _render(r: dict[str, Any]) -> str:
    from workers.stack import STATE_LABELS

    t = r.get("temporal") or {}
    phase = {"starting": "正在启动", "stopping": "正在停止"}.get(r.get("state") or "", "正在运行")
    lines = [
        f"OneSeal {r.get('version', '')} {phase}（进程 {r.get('pid')}，"
        f"自 {beijing(r.get('started_at'))} 起，已运行 {_since(r.get('started_at'))}）",
        f"  数据目录         {r['data_dir']}",
    ]
    if t:
        lines.append(
            f"  Temporal 服务    {t.get('address')}  命名空间 {t.get('namespace')}"
            + ("（内置开发服务器）" if t.get("embedded") else "（外部）")
        )
        if t.get("ui"):
            lines.append(f"  Temporal UI      {t['ui']}")
    if r.get("web"):
        lines.append(f"  网页             {r['web']}")
    if r.get("event_store"):
        lines.append(f"  事件库           {r['event_store']}")
    if r.get("logs"):
        lines.append(f"  日志             {r['logs']}")
    lines.append("  进程")
    for c in r.get("children") or []:
        pid = f"进程 {c['pid']}" if c.get("pid") else "无进程"
        since = f"，自 {beijing(c.get('started_at'))} 起" if c.get("pid") else ""
        line = f"    {_pad(c.get('label', c['name']), 26)}{STATE_LABELS.get(c['state'], c['state'])}，{pid}{since}"
        line += f"，重启 {c.get('restarts', 0)} 次"
        last = c.get("last_exit") or {}
        if last:
            line += f"（上次 {beijing(last.get('at'))} {last.get('reason', '')}）"
        lines.append(line)
    if r.get("read_models"):
        lines.append(f"  读模型           {r['read_models']}")
    models = r.get("projections")
    if isinstance(models, str):
        lines.append(f"  投影             无法读取读模型：{models}")
    else:
        for m in models or []:
            lines.append(
                f"  投影 {_pad(m['name'], 12)}位置 {m['position']}，事件库最新 {m['head']}，滞后 {m['lag']} 条事件"
            )
    return "\n".join(lines)


def down(settings: Settings, timeout: float = 10.0) -> int:
    """SIGTERM the data dir's `oneseal up` and wait until it has released the data dir."""
    data_dir: Path = settings.data_dir
    if not lock_is_held(data_dir):
        stale = read_state(data_dir)
        print(f"OneSeal 未运行（数据目录 {data_dir}），无需停止。")
        if stale:
            remove_state(data_dir)
            print(f"  已清除上次未正常停止的 OneSeal（进程 {stale.get('pid')}）留下的状态文件")
        return 0
    state = read_state(data_dir) or {}
    holder = read_holder(data_dir)
    pid = holder.pid
    for _ in range(10):  # a stack that is just starting writes its pid within microseconds
        if pid:
            break
        time.sleep(0.05)
        pid = read_holder(data_dir).pid
    if not pid:
        print(f"✗ 数据目录 {data_dir} 已被占用，但锁文件中没有进程号，无法停止")
        return EXIT_DOWN_TIMEOUT
    print(f"正在停止 OneSeal（进程 {pid}，数据目录 {data_dir}）…", flush=True)
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        print(f"✗ 无权停止进程 {pid}（它属于另一个用户）")
        return EXIT_DOWN_TIMEOUT
    t0 = time.monotonic()
    # The lock, not the pid: `up` releases it last, and a stopped `up` may linger as a zombie of its parent.
    while lock_is_held(data_dir):
        if time.monotonic() - t0 > timeout:
            print(f"✗ OneSeal（进程 {pid}）在 {timeout:g} 秒内未停止；可查看日志 {data_dir / 'logs'}，或 kill -9 {pid}")
            return EXIT_DOWN_TIMEOUT
        time.sleep(0.1)
    children = "、".join(
        f"{c.get('label', c['name'])}" + (f"（进程 {c['pid']}）" if c.get("pid") else "")
        for c in state.get("children") or []
    )
    print(f"✓ OneSeal 已停止（用时 {time.monotonic() - t0:.1f} 秒）：{children or '主进程'}")
    return 0
