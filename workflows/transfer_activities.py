"""The one thin, idempotent activity of the transfer workflows: one command through ``TransferCommands``.

The weekly snapshot (step ``snapshot``) reads every due week's trial figures from the read models in one
call (``projections.transfer_figures.trial_figures_of`` through the ``figures`` function the worker wires:
the read model brought to the store's head once, one read of the item's cases), then records them on the
item in one save.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from domain.errors import DomainError
from domain.transfer.commands import TransferCommands
from domain.transfer.item import TrialFigures
from domain.transfer.view import ItemState, ProgrammeState, SupervisionState, due_weeks
from workflows.transfer_contracts import TransferCommand, TransferResult

log = structlog.get_logger("oneseal.activities")

# (matter_code, department, region, windows: [(start, end), ...]) -> the figures of each window, in order
FiguresSource = Callable[..., list[TrialFigures]]


class TransferActivities:
    def __init__(self, commands: TransferCommands, *, figures: FiguresSource | None = None) -> None:
        self.commands = commands
        self.figures = figures

    @activity.defn(name="transfer_command")
    def transfer_command(self, cmd: TransferCommand) -> TransferResult:
        info = activity.info()
        bound = log.bind(
            programme=cmd.programme, code=cmd.code, workflow_id=info.workflow_id, step=cmd.step,
            command_id=cmd.command_id, attempt=info.attempt,
        )  # fmt: skip
        try:
            result = self._run(cmd)
        except DomainError as e:
            bound.info("transfer.command.refused", code=e.code, reason=e.message)
            raise ApplicationError(e.message, e.details, type=e.code, non_retryable=True) from None
        bound.info("transfer.command.done", recorded=result.recorded, notification_id=result.notification_id)
        return result

    def _run(self, cmd: TransferCommand) -> TransferResult:
        c, a, p, code = self.commands, cmd.args, cmd.programme, cmd.code
        common: dict[str, Any] = {"actor": cmd.actor, "at": cmd.at, "command_id": cmd.command_id}
        step = cmd.step
        if step == "start":  # an item's workflow begins: its state, the handover opened if its batch is open
            licence, prog = c.item(p, code), c.programme(p)
            if licence.status.value == "scheduled" and licence.batch in prog.opened_batches:
                opened = c.open_handover(p, code, **common)
                return TransferResult(programme=self._for_item(p), item=opened.state, recorded=opened.recorded,
                                      notification_id=opened.notification_id)  # fmt: skip
            return TransferResult(programme=self._for_item(p), item=c.item_state(p, code))
        if step == "load":
            if code:
                return TransferResult(programme=self._for_item(p), item=c.item_state(p, code))
            return TransferResult(programme=c.programme_state(p))
        if step == "supervision_load":
            return TransferResult(task=c.task_state(code))
        if step in ("claim", "mark_overdue"):
            t = (c.claim if step == "claim" else c.mark_overdue)(code, **common)
            return TransferResult(task=t.state, recorded=t.recorded, notification_id=t.notification_id)
        if step == "snapshot":
            return self._snapshot(cmd)
        if step in ("open_handover", "sign", "cut_over", "decide"):
            if step == "open_handover":
                i = c.open_handover(p, code, **common)
            elif step == "sign":
                i = c.sign(p, code, a["entry"], party=a.get("party") or None, note=a.get("note", ""),
                           document_no=a.get("document_no", ""), **common)  # fmt: skip
            elif step == "cut_over":
                i = c.cut_over(p, code, **common)
            else:
                new_end = date.fromisoformat(a["new_end"]) if a.get("new_end") else None
                i = c.decide(p, code, a["decision"], reason=a.get("reason", ""), new_end=new_end,
                             approved_by=a.get("approved_by", ""), **common)  # fmt: skip
            return TransferResult(item=i.state, recorded=i.recorded, notification_id=i.notification_id)
        if step == "open_batch":
            o = c.open_batch(p, int(a["batch"]), **common)
        elif step == "milestone":
            o = c.record_milestone(p, a["milestone"], document_no=a["document_no"], note=a.get("note", ""), **common)
        elif step == "start_trial":
            o = c.start_trial(p, **common)
        elif step == "close":
            o = c.close(p, **common)
        elif step == "add_item":
            o = c.add_item(
                p, code=a["code"], department=a["department"], batch=a.get("batch"), approved_by=a["approved_by"],
                reason=a["reason"], legal_basis=a.get("legal_basis", ""), name=a.get("name", ""),
                personnel=tuple(a.get("personnel", ())), document_no=a.get("document_no", ""), **common,
            )  # fmt: skip
        elif step == "remove_item":
            o = c.remove_item(p, a["code"], approved_by=a["approved_by"], reason=a["reason"],
                              document_no=a.get("document_no", ""), **common)  # fmt: skip
        else:
            raise ApplicationError(f"unknown transfer step {step!r}", type="TRANSFER_STEP_UNKNOWN", non_retryable=True)
        item = c.item_state(p, a["code"]) if step in ("add_item", "remove_item") else None
        return TransferResult(programme=o.state, item=item, recorded=o.recorded, notification_id=o.notification_id)

    def _for_item(self, programme: str) -> ProgrammeState:
        """The programme as an item's workflow needs it (milestones, batches, trial window) without the list of
        items: that list grows with the programme, and every item's history would carry a copy of it (360 KB
        per item at 2,000 items, enough to stall workflow tasks)."""
        return replace(self.commands.programme_state(programme), items=())

    def _snapshot(self, cmd: TransferCommand) -> TransferResult:
        """Every week whose snapshot moment has come by ``cmd.at``: figures from the read models, one save."""
        c = self.commands
        item = c.item(cmd.programme, cmd.code)
        state = ItemState.of(item)
        weeks = due_weeks(state, cmd.at)
        if not weeks:
            return TransferResult(item=state)
        if self.figures is None:
            raise ApplicationError("工作进程未配置读模型，无法记录试运行数据", type="TRANSFER_FIGURES_UNAVAILABLE",
                                   non_retryable=True)  # fmt: skip
        start, end = state.trial_window()
        figures = self.figures(
            matter_code=item.code,
            department=item.bureau,
            region=item.bureau_authority.region,
            windows=[(max(w, start), min(w + timedelta(days=7), end + timedelta(days=1))) for w in weeks],
        )
        figures = [_on_week(f, w) for f, w in zip(figures, weeks, strict=True)]
        o = c.record_figures(cmd.programme, cmd.code, figures, actor=cmd.actor, at=cmd.at, command_id=cmd.command_id)
        return TransferResult(item=o.state, recorded=o.recorded, notification_id=o.notification_id)


def _on_week(f: TrialFigures, week: date) -> TrialFigures:
    from dataclasses import replace

    return replace(f, week_start=week)


__all__ = ["ProgrammeState", "SupervisionState", "TransferActivities"]
