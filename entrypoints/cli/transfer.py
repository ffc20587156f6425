"""`oneseal transfer …`: the transfer programme (相对集中行政许可权改革).

Placeholder on the transfer-reports branch: engineer A's branch (transfer-core) owns this file and
its commands (plan, show, sign, milestone, decide, add-item, remove-item, claim); ``status`` comes
from ``entrypoints.cli.transfer_reports`` (registered in ``entrypoints.cli``)."""

from __future__ import annotations

import typer

transfer_app = typer.Typer(help="相对集中行政许可权改革：划转方案、交接签认、试运行与事项清单", no_args_is_help=True)
