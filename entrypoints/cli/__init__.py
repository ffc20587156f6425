"""The staff command line (`oneseal`): a thin shell that translates arguments, calls the services, prints."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.markup import escape

from entrypoints.cli.admin import import_app, projections_app, scenario_app
from entrypoints.cli.calendar import calendar_app
from entrypoints.cli.cases import case_app, worklist_app
from entrypoints.cli.common import err, out
from entrypoints.cli.directory import matters_app, staff_app
from entrypoints.cli.operations import operations_app
from entrypoints.cli.parallel import parallel_app, parallel_scenario_app
from entrypoints.cli.processes import processes_app
from entrypoints.cli.reports import report_app
from entrypoints.cli.transfer import transfer_app
from entrypoints.cli.transfer_reports import transfer_report_group, transfer_reports_app
from entrypoints.cli.users import user_app

app = typer.Typer(help="OneSeal 一枚印章：政务服务办件流程引擎", no_args_is_help=True, add_completion=False)


def _print_version(value: bool) -> None:
    if value:
        from workers.stack_state import version

        out.print(f"oneseal {version()}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="显示版本并退出")
    ] = False,
) -> None:
    """OneSeal 一枚印章：政务服务办件流程引擎"""


app.add_typer(case_app, name="case")
app.add_typer(matters_app, name="matters")
app.add_typer(staff_app, name="staff")
app.add_typer(projections_app, name="projections")
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
app.add_typer(scenario_app, name="scenario")
app.add_typer(user_app, name="user")
app.add_typer(parallel_app, name="parallel")
app.add_typer(transfer_app, name="transfer")
scenario_app.registered_commands += parallel_scenario_app.registered_commands
app.add_typer(calendar_app, name="calendar")
transfer_app.registered_commands += transfer_reports_app.registered_commands
report_app.registered_commands += transfer_report_group.registered_commands
app.registered_commands += worklist_app.registered_commands + processes_app.registered_commands
app.registered_commands += operations_app.registered_commands


def main() -> None:
    """Run the CLI, then leave without interpreter finalisation.

    The Temporal client's native runtime keeps threads that may still touch the GIL while
    Python finalises, which now and then aborts the process (``PyGILState_Release`` …) after the
    command has already succeeded. Everything is written and flushed by then, so exit at once."""
    code = 0
    try:
        app()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if isinstance(e.code, str):  # SystemExit("message"): Python prints it; so must we, before os._exit
            err.print(f"[bold red]✗[/] {escape(e.code)}", highlight=False)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
