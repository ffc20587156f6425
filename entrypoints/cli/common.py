"""What every CLI command shares: the bootstrap, error handling with exit codes, safe rendering.

Exit codes: 0 done; 1 a check did not hold (e.g. a drive's bulletin mismatch); 2 refused (a
domain rule or bad input: a Chinese message and a stable code, nothing written); 3 the
infrastructure is not there (Temporal, the store, the read models, an empty data directory).

Everything people typed is escaped before it reaches the terminal: control characters, bidi
overrides and zero-width characters are shown as ``\\uXXXX``, and Rich markup is not interpreted.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from datetime import date, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from domain.calendar import SHANGHAI
from domain.errors import DomainError
from domain.text import printable
from services.errors import DataDirEmpty, ReadModelUnreadable, StoreUnreachable, TemporalUnreachable, infra_error

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

out = Console()
err = Console(stderr=True)
T = TypeVar("T")
INFRA = (TemporalUnreachable, StoreUnreachable, ReadModelUnreadable, DataDirEmpty)


def boot() -> Bootstrap:
    """The services, for a command that uses them: imported here, not at start-up, so that ``--help``, a
    typo or ``status`` never load the Temporal client, SQLAlchemy or structlog (tests/unit/test_cli_imports.py)."""
    from services.bootstrap import Bootstrap
    from workers.logging import configure_logging, quiet_temporal_core

    b = Bootstrap(before_connect=quiet_temporal_core)  # the SDK's runtime only for a command that connects
    configure_logging(b.settings.log_format, level=40)  # staff see results, not log lines
    return b


def fail(code: str, message: str, exit_code: int = 2) -> None:
    err.print(f"[bold red]✗ {safe(message)}[/]  [dim]({code})[/]", soft_wrap=True)  # copyable: not hard-broken
    raise typer.Exit(exit_code)


def command(fn: Callable[..., T]) -> Callable[..., T]:
    """Refusals become a clear Chinese message and a non-zero exit; nothing is written."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except INFRA as e:
            fail(e.code, e.message, 3)
        except DomainError as e:
            for row in e.details.get("rows") or []:  # e.g. every bad line of an import file
                err.print("  " + safe(row))
            fail(e.code, e.message)
        except KeyboardInterrupt:
            fail("INTERRUPTED", "已中断", 130)
        except Exception as e:  # a lost connection or an unreadable database deep in a library
            infra = infra_error(e)
            if infra is None:
                raise
            fail(infra.code, infra.message, 3)
        raise AssertionError("unreachable")

    return wrapper


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def safe(value: Any) -> str:
    """Text for the terminal: invisible characters made visible, Rich markup not interpreted."""
    return escape(printable("" if value is None else str(value)))


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment in Beijing time, as staff read it."""
    return "—" if value is None else value.astimezone(SHANGHAI).strftime(fmt)


def due(value: datetime | None) -> str:
    """A deadline as staff read it: the end of its last day (a deadline is the midnight after that day)."""
    if value is None:
        return "—"
    local_time = value.astimezone(SHANGHAI)
    if (local_time.hour, local_time.minute, local_time.second) == (0, 0, 0):
        return (local_time - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return local_time.strftime("%Y-%m-%d %H:%M")


def table(title: str, *columns: str | tuple[str, dict[str, Any]]) -> Table:
    """A table whose text wraps instead of being cut short; ``(name, options)`` for a column's own."""
    t = Table(title=safe(title), title_justify="left", pad_edge=False, expand=False)
    for col in columns:
        name, opts = (col, {}) if isinstance(col, str) else col
        t.add_column(name, **{"overflow": "fold", **opts})
    return t


def code_column(name: str, values: list[str]) -> tuple[str, dict[str, Any]]:
    """A column of codes people type: never wrapped or cut."""
    return name, {"no_wrap": True, "min_width": max([len(name) * 2, *map(len, values)]), "overflow": "ignore"}


def emit(rendered: str | bytes, output: str | Path | None) -> None:
    """A rendered report: to the file named by ``-o``, else to standard output (a binary format needs a file)."""
    if output:
        if isinstance(rendered, bytes):
            Path(output).write_bytes(rendered)
        else:
            Path(output).write_text(rendered, encoding="utf-8")
        err.print(f"[green]✓ 已写入 {safe(output)}[/]")
    elif isinstance(rendered, bytes):
        fail("OUTPUT_REQUIRED", "xlsx 格式请用 -o 指定输出文件")
    else:
        sys.stdout.write(rendered)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_plain) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, date):  # datetime too (a subclass): ISO 8601 text
        return value.isoformat()
    to_dict = getattr(value, "to_dict", None)
    if to_dict:
        return to_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    raise TypeError(f"not JSON: {type(value)}")
