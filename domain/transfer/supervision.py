"""审管联动: the bureau approves, the origin department supervises.

For every decision the bureau issues on a transferred item, the origin (supervising) department
gets a ``SupervisionTask`` in its worklist, to be claimed (认领) within 2 working days of the
decision by the service calendar (the Liaocheng rule; the length is a parameter). An unclaimed
task past its deadline is marked overdue and stays in the admin views; a late claim is recorded
as late. Pure: the workflow sleeps until ``claim_due`` and calls ``mark_overdue``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.calendar import DayType, ServiceCalendar, to_local
from domain.errors import MissingField
from domain.events import Recorded
from domain.staff import Actor, Assignment, Post
from domain.transfer.errors import (
    SupervisionAlreadyClaimed,
    SupervisionNotApplicable,
    SupervisionWrongDepartment,
    TransferIllegalTransition,
)
from domain.transfer.item import LicenceItem

CLAIM_DAYS = 2
CLAIM_DAY_TYPE = DayType.WORKING


class SupervisionStatus(StrEnum):
    OPEN = "open"
    OVERDUE = "overdue"
    CLAIMED = "claimed"

    @property
    def label(self) -> str:
        return {
            SupervisionStatus.OPEN: "待认领",
            SupervisionStatus.OVERDUE: "逾期未认领",
            SupervisionStatus.CLAIMED: "已认领",
        }[self]


def supervision_task_id(case_no: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/oneseal/supervision/{case_no}")


class SupervisionTask(Aggregate):
    """One bureau decision to be claimed by the supervising department; one per case (id from the case number)."""

    class Event(Recorded):
        pass

    class Opened(Aggregate.Created, Event):
        case_no: str
        programme: str
        item_code: str
        item_name: str
        decision: str
        decided_at: datetime
        bureau: str
        department: str  # the supervising (origin) department
        region: str
        claim_due: datetime
        claim_due_provisional: bool = False

    class Claimed(Event):
        late: bool

        def apply(self, task: SupervisionTask) -> None:
            task.status = SupervisionStatus.CLAIMED
            task.claimed_by = dict(self.actor)
            task.claimed_at = self.at
            task.claimed_late = self.late
            task.processed_commands.append(self.command_id)

    class MarkedOverdue(Event):
        def apply(self, task: SupervisionTask) -> None:
            task.status = SupervisionStatus.OVERDUE
            task.processed_commands.append(self.command_id)

    @staticmethod
    def create_id(case_no: str) -> UUID:
        return supervision_task_id(case_no)

    @event(Opened)
    def __init__(
        self,
        case_no: str,
        programme: str,
        item_code: str,
        item_name: str,
        decision: str,
        decided_at: datetime,
        bureau: str,
        department: str,
        region: str,
        claim_due: datetime,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        claim_due_provisional: bool = False,
    ) -> None:
        self.case_no, self.programme, self.item_code, self.item_name = case_no, programme, item_code, item_name
        self.decision, self.decided_at = decision, decided_at
        self.bureau, self.department, self.region = bureau, department, region
        self.claim_due, self.claim_due_provisional = claim_due, claim_due_provisional
        self.status = SupervisionStatus.OPEN
        self.claimed_by: dict[str, str] | None = None
        self.claimed_at: datetime | None = None
        self.claimed_late = False
        self.processed_commands: list[str] = [command_id]

    @classmethod
    def issue(
        cls,
        *,
        case_no: str,
        item: LicenceItem,
        decision: str,
        decided_by: str,
        decided_at: datetime,
        calendar: ServiceCalendar,
        claim_days: int = CLAIM_DAYS,
        claim_day_type: DayType = CLAIM_DAY_TYPE,
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> SupervisionTask:
        """Open the supervising department's task for a decision the bureau issued on a transferred item."""
        if not case_no.strip():
            raise MissingField("缺少办件编号", field="case_no")
        if not decision.strip():
            raise MissingField("缺少审批决定", field="decision")
        if decided_by != item.bureau:
            raise SupervisionNotApplicable(
                f"办件「{case_no}」的决定由{decided_by}作出，不是{item.bureau}，无需推送审管联动",
                case_no=case_no,
                field="decided_by",
            )
        due = calendar.deadline(decided_at, claim_days, claim_day_type)
        return cls(
            case_no=case_no.strip(),
            programme=item.programme,
            item_code=item.code,
            item_name=item.name,
            decision=decision.strip(),
            decided_at=to_local(decided_at).astimezone(UTC),
            bureau=item.bureau,
            department=item.supervisor,
            region=item.bureau_authority.region,
            claim_due=due.at,
            claim_due_provisional=due.provisional,
            actor=actor.to_dict(),
            at=to_local(at).astimezone(UTC),
            command_id=command_id,
        )

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    @property
    def awaiting(self) -> Assignment | None:
        """Whose worklist shows the task: the supervising department's staff, until claimed."""
        if self.status is SupervisionStatus.CLAIMED:
            return None
        return Assignment(self.department, Post.REVIEWER.value, self.region)

    def is_overdue(self, now: datetime) -> bool:
        return self.status is not SupervisionStatus.CLAIMED and now >= self.claim_due

    def check_claim(self, actor: Actor) -> None:
        if self.status is SupervisionStatus.CLAIMED:
            who = Actor.from_dict(self.claimed_by or {}).name
            raise SupervisionAlreadyClaimed(f"监管任务「{self.case_no}」已由{who}认领", case_no=self.case_no)
        if actor.department != self.department:
            raise SupervisionWrongDepartment(
                f"监管任务「{self.case_no}」应由{self.department}认领，{actor.describe()}不能认领",
                case_no=self.case_no,
                field="actor",
            )

    def claim(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        if self.has_processed(command_id):
            return
        self.check_claim(actor)
        at = to_local(at).astimezone(UTC)
        self.trigger_event(self.Claimed, late=at >= self.claim_due, actor=actor.to_dict(), at=at, command_id=command_id)

    def check_mark_overdue(self, at: datetime) -> None:
        if self.status is not SupervisionStatus.OPEN:
            raise TransferIllegalTransition(
                f"监管任务「{self.case_no}」当前为「{self.status.label}」，不能标记逾期", status=self.status.value
            )
        if at < self.claim_due:
            raise TransferIllegalTransition(
                f"认领期限为{to_local(self.claim_due):%Y-%m-%d %H:%M}，尚未逾期", field="at", case_no=self.case_no
            )

    def mark_overdue(self, *, actor: Actor, at: datetime, command_id: str) -> None:
        if self.has_processed(command_id):
            return
        self.check_mark_overdue(at)
        self.trigger_event(
            self.MarkedOverdue, actor=actor.to_dict(), at=to_local(at).astimezone(UTC), command_id=command_id
        )
