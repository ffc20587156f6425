"""Cases handled before OneSeal existed (migration from the legacy platform).

An imported case is a ``HistoricalCase``: a ``Case`` whose creating event ``Imported`` carries
the legacy record as it was, so it is never mistaken for a case OneSeal ran. Its id is the same
``uuid5(case_no)`` as a live case, so a case number exists only once. A case still open in the
legacy record can be ADOPTED: ``adopt`` records its deadline and warning moment and hands it to
the post that acts next, and from then on it is worked like any case (decide, deliver, …), by a
workflow of its own, and counts in overdue marks and worklists.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.calendar import SHANGHAI, DayType, ServiceCalendar
from domain.cases.case import Case, StepContext, promised_deadlines
from domain.cases.model import CaseStatus, case_id
from domain.cases.steps import Acting, Adopt
from domain.catalogue import Catalogue, Level, MatterKind

IMPORT_COLUMNS = (
    "case_no",
    "matter_code",
    "matter_name",
    "matter_kind",
    "level",
    "region",
    "department",
    "applicant",
    "submitted_at",
    "accepted_at",
    "completed_at",
    "result",
    "promised_days",
    "day_type",
)
RESULTS = ("granted", "denied", "refused", "withdrawn", "")


@dataclass(frozen=True)
class ImportRecord:
    """One validated legacy row; times are aware datetimes in UTC."""

    case_no: str
    matter_code: str
    matter_name: str
    matter_kind: str
    level: str
    region: str
    department: str
    applicant: str
    submitted_at: datetime
    accepted_at: datetime | None
    completed_at: datetime | None
    result: str
    promised_days: int
    day_type: str
    promised_deadline: datetime | None
    source_hash: str

    def as_event_fields(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RowError:
    line: int
    case_no: str
    reason: str


@dataclass
class ParsedImport:
    records: list[ImportRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    unknown: dict[str, set[str]] = field(default_factory=dict)  # what the catalogue does not know, by kind
    duplicates_in_file: int = 0
    bad_lines: dict[int, list[str]] = field(default_factory=dict)  # line -> raw row, for the reject file


def _parse_time(value: str, column: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{column}「{value}」不是 ISO 8601 时间") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)  # legacy naive times are Beijing time
    return moment.astimezone(UTC)


def _row_hash(row: dict[str, str]) -> str:
    return hashlib.sha256("\x1f".join(row.get(c, "") for c in IMPORT_COLUMNS).encode()).hexdigest()[:32]


def parse_import(text: str, catalogue: Catalogue, calendar: ServiceCalendar) -> ParsedImport:
    """Validate every row; collect errors with line numbers instead of stopping at the first."""
    out = ParsedImport()
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = next(reader)
    except StopIteration:
        out.errors.append(RowError(1, "", "文件为空"))
        return out
    if tuple(h.strip() for h in header) != IMPORT_COLUMNS:
        out.errors.append(RowError(1, "", f"表头应为 {','.join(IMPORT_COLUMNS)}"))
        return out
    seen: dict[str, tuple[str, int]] = {}
    known = (
        {m.authority.department for m in catalogue.matters.values()},
        {m.authority.region for m in catalogue.matters.values()},
    )
    for line_no, raw in enumerate(reader, start=2):
        if not any(cell.strip() for cell in raw):
            continue
        if len(raw) != len(IMPORT_COLUMNS):
            reason = f"应有 {len(IMPORT_COLUMNS)} 列，实有 {len(raw)} 列"
            out.errors.append(RowError(line_no, raw[0] if raw else "", reason))
            out.bad_lines[line_no] = raw
            continue
        row = {c: v.strip() for c, v in zip(IMPORT_COLUMNS, raw, strict=True)}
        digest = _row_hash(row)
        previous = seen.get(row["case_no"])
        if previous is not None:
            if previous[0] == digest:
                out.duplicates_in_file += 1
                continue
            out.errors.append(RowError(line_no, row["case_no"], f"办件编号与第{previous[1]}行重复但内容不同"))
            out.bad_lines[line_no] = raw
            continue
        try:
            record = _validate(row, digest, catalogue, calendar, out.unknown, known)
        except ValueError as e:
            out.errors.append(RowError(line_no, row["case_no"], str(e)))
            out.bad_lines[line_no] = raw
            continue
        seen[row["case_no"]] = (digest, line_no)
        out.records.append(record)
    return out


def _validate(
    row: dict[str, str],
    digest: str,
    catalogue: Catalogue,
    calendar: ServiceCalendar,
    unknown: dict[str, set[str]],
    known: tuple[set[str], set[str]],
) -> ImportRecord:
    for required in ("case_no", "level", "region", "department", "submitted_at", "promised_days", "day_type"):
        if not row[required]:
            raise ValueError(f"{required} 不能为空")
    if row["level"] not in {lv.value for lv in Level}:
        raise ValueError(f"level「{row['level']}」应为 prefecture 或 county")
    if row["matter_kind"] not in {k.value for k in MatterKind}:
        raise ValueError(f"matter_kind「{row['matter_kind']}」应为 licensing 或 public_service")
    if row["day_type"] not in {d.value for d in DayType}:
        raise ValueError(f"day_type「{row['day_type']}」应为 working 或 natural")
    if row["result"] not in RESULTS:
        raise ValueError(f"result「{row['result']}」应为 granted、denied、refused、withdrawn 或留空")
    try:
        promised = int(row["promised_days"])
    except ValueError:
        raise ValueError(f"promised_days「{row['promised_days']}」不是整数") from None
    if promised <= 0:
        raise ValueError("promised_days 必须为正整数")
    submitted = _parse_time(row["submitted_at"], "submitted_at")
    accepted = _parse_time(row["accepted_at"], "accepted_at") if row["accepted_at"] else None
    completed = _parse_time(row["completed_at"], "completed_at") if row["completed_at"] else None
    if accepted and accepted < submitted:
        raise ValueError("accepted_at 早于 submitted_at")
    if completed and completed < (accepted or submitted):
        raise ValueError("completed_at 早于 accepted_at" if accepted else "completed_at 早于 submitted_at")
    result = row["result"]
    if result in ("granted", "denied") and not (accepted and completed):
        raise ValueError(f"result 为 {result} 时 accepted_at 和 completed_at 都不能为空")
    if result == "refused" and accepted:
        raise ValueError("不予受理（refused）的办件不应有 accepted_at")
    if result in ("refused", "withdrawn") and not completed:
        raise ValueError(f"result 为 {result} 时 completed_at 须填写结束时间")
    if not result and completed:
        raise ValueError("completed_at 已填写但 result 为空")
    if not row["matter_code"] and not row["matter_name"]:
        raise ValueError("matter_code 与 matter_name 不能同时为空")
    if row["matter_code"] and row["matter_code"] not in catalogue.matters:
        if not row["matter_name"]:
            raise ValueError(f"未知事项编码「{row['matter_code']}」且未提供 matter_name")
        unknown.setdefault("matter_code", set()).add(row["matter_code"])
    departments, regions = known
    if row["department"] not in departments:
        unknown.setdefault("department", set()).add(row["department"])
    if row["region"] not in regions:
        unknown.setdefault("region", set()).add(row["region"])
    deadline = None
    if accepted:
        deadline = calendar.deadline(accepted, promised, DayType(row["day_type"]), allow_provisional=True).at
    return ImportRecord(
        case_no=row["case_no"],
        matter_code=row["matter_code"],
        matter_name=row["matter_name"],
        matter_kind=row["matter_kind"],
        level=row["level"],
        region=row["region"],
        department=row["department"],
        applicant=row["applicant"],
        submitted_at=submitted,
        accepted_at=accepted,
        completed_at=completed,
        result=result,
        promised_days=promised,
        day_type=row["day_type"],
        promised_deadline=deadline,
        source_hash=digest,
    )


_CLOSED = {"granted": CaseStatus.COMPLETED, "denied": CaseStatus.COMPLETED, "refused": CaseStatus.REFUSED,
           "withdrawn": CaseStatus.WITHDRAWN}  # fmt: skip


class HistoricalCase(Case):
    """A case imported from the legacy platform: the legacy record as its first fact."""

    class Event(Aggregate.Event):
        """Its own base, so ``Imported`` (recorded by no one, at no command) needs no actor or command id."""

    class Imported(Aggregate.Created):
        """The legacy record (no actor, time or command id: it was not recorded by OneSeal)."""

        LABEL = "历史导入"
        case_no: str
        matter_code: str
        matter_name: str
        matter_kind: str
        level: str
        region: str
        department: str
        applicant: str
        submitted_at: datetime
        accepted_at: datetime | None
        completed_at: datetime | None
        result: str
        promised_days: int
        day_type: str
        promised_deadline: datetime | None
        source_hash: str
        batch: str

    class Adopted(Case.Event):
        """OneSeal took over an open legacy case: its deadlines as they stand, and who acts next."""

        LABEL = "接管历史在办件"
        status: str
        deadline_day: str | None
        warning_day: str | None
        promised_deadline: datetime | None
        warning_at: datetime | None
        provisional: bool
        deemed_acceptance_at: datetime | None

        def change(self, case: Case) -> None:
            case.adopted = True
            case.status = CaseStatus(self.status)
            case.deemed_acceptance_at = self.deemed_acceptance_at
            if self.promised_deadline is not None:
                case._set_deadlines(self)

    @staticmethod
    def create_id(case_no: str) -> UUID:
        return case_id(case_no)

    @event(Imported)
    def __init__(  # type: ignore[override]
        self,
        case_no: str,
        matter_code: str,
        matter_name: str,
        matter_kind: str,
        level: str,
        region: str,
        department: str,
        applicant: str,
        submitted_at: datetime,
        accepted_at: datetime | None,
        completed_at: datetime | None,
        result: str,
        promised_days: int,
        day_type: str,
        promised_deadline: datetime | None,
        source_hash: str,
        batch: str,
    ) -> None:
        self._start(
            case_no=case_no,
            matter_code=matter_code,
            matter_name=matter_name,
            matter_kind=matter_kind,
            department=department,
            level=level,
            region=region,
            applicant=applicant,
            required_materials=[],
            provided_materials=[],
            statutory_days=promised_days,
            promised_days=promised_days,
            day_type=day_type,
            submitted_at=submitted_at,
            deemed_acceptance_at=None,
            awaiting=None,
            imported=True,
            demo=False,
        )
        self.source_hash = source_hash
        self.import_batch = batch
        self.result = result
        self.accepted_at = accepted_at
        self.promised_deadline = promised_deadline
        closed = _CLOSED.get(result)
        self.status = closed or (CaseStatus.UNDER_REVIEW if accepted_at else CaseStatus.SUBMITTED)
        if result in ("granted", "denied"):
            self.decision = "grant" if result == "granted" else "deny"
            self.decided_at = self.delivered_at = self.completed_at = completed_at
            self.overdue = bool(completed_at and promised_deadline and completed_at > promised_deadline)
        elif closed is not None:
            self.closed_reason = result

    def adopt(self, req: Adopt, ctx: StepContext) -> None:
        """Take over an open legacy case: deadlines from its acceptance, the next post's task opened."""
        self._validate(req, ctx)
        if self.status is CaseStatus.UNDER_REVIEW:
            assert self.accepted_at is not None
            d = promised_deadlines(self.accepted_at, self.promised_days, DayType(self.day_type), ctx.calendar,
                                   ctx.rules)  # fmt: skip
            self._record(
                HistoricalCase.Adopted,
                req,
                ctx,
                Acting.REVIEWER.assignment(self.region, self.department),
                status=self.status.value,
                deadline_day=d.deadline_day.isoformat(),
                warning_day=d.warning_day.isoformat(),
                promised_deadline=self.promised_deadline or d.promised_deadline,
                warning_at=d.warning_at,
                provisional=d.provisional,
                deemed_acceptance_at=None,
            )
            return
        deemed = ctx.calendar.deadline(
            self.submitted_at, ctx.rules.deemed_acceptance_days, ctx.rules.deemed_acceptance_day_type
        )
        self._record(
            HistoricalCase.Adopted,
            req,
            ctx,
            Acting.FRONT_DESK.assignment(self.region, self.department),
            status=self.status.value,
            deadline_day=None,
            warning_day=None,
            promised_deadline=None,
            warning_at=None,
            provisional=False,
            deemed_acceptance_at=deemed.at,
        )
