"""The names OneSeal gives its Temporal objects that need no Temporal SDK to compute: the task queue every
workflow and activity runs on (``ONESEAL_TASK_QUEUE`` may name another) and the case workflow's id.

A module of its own, so that the settings (read by every process) and the case service's reads (a CLI
``case show`` names the case's workflow) do not import the SDK that ``workflows.contracts`` needs."""

from __future__ import annotations

TASK_QUEUE = "oneseal-cases"


def case_workflow_id(case_no: str) -> str:
    """One workflow per case, its id derived from the case number."""
    return f"case-{case_no}"


SUBMIT = "submit"  # the step name of the command that registers a submitted case (workflows.contracts)


def registration_command_id(case_no: str) -> str:
    """The id of the command that registers a submitted case: its workflow's first (``CaseWorkflow._execute``
    names them ``{workflow id}/{n}:{step}``). The store records it with the Submitted event."""
    return f"{case_workflow_id(case_no)}/1:{SUBMIT}"
