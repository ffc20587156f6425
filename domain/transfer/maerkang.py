"""The Maerkang 2020 scenario (pure): the cases of the 177 items before and during the trial, and its outcome.

``oneseal scenario load maerkang-2020`` (services/scenarios.py) drives the shipped plan
(domain/data/maerkang-2020.yaml) through the real transfer workflows and imports, through the
ordinary historical import (domain/cases/legacy.py), the cases generated here:

- BEFORE the transfer, 2019-06-01 up to each batch's cut-over (2020-06-01 for batch 1,
  2020-07-01 for batch 2): handled by the item's ORIGIN department;
- DURING the trial, from the cut-over to 2020-10-31: handled by 马尔康市行政审批局 (the bureau).

Everything is drawn from one seeded ``random.Random`` in a fixed order, so the file is the same
byte for byte on every run (and re-importing it is a no-op). Volumes are those of a county-level
city of about 60,000 people: a few popular items (食品经营许可, 个体工商户登记, 道路运输) see
dozens of cases a month, most items a handful or fewer; about 600 cases a month in all.

Service: before, a case takes on average about 60 % of its promised working days and about 8 %
run over; at the bureau about 30 % and about 1 % — the bureau is faster and more on time on
most items. Two items are the exception and are ROLLED BACK at the end of the trial (the bureau
lacked the technical reviewers: slower and often late there); six items are EXTENDED (too few
cases in five months to judge, or a pending reorganisation at the origin). Everything else goes
live. The choice is fixed here (``ROLLED_BACK``, ``EXTENDED``), documented in docs/transfer.md.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from domain.calendar import SHANGHAI, DayType, ServiceCalendar
from domain.cases.legacy import IMPORT_COLUMNS
from domain.catalogue import Catalogue
from domain.transfer.item import Decision
from domain.transfer.plan import Plan

NAME = "maerkang-2020"
SEED = 20200601
BEFORE_START = date(2019, 6, 1)
DECISION_DAY = date(2020, 10, 30)  # the end-of-trial meeting: the last working day of the trial
EXTENDED_TO = date(2020, 12, 31)

# Item code -> (decision, reason). Not listed: go live.
ROLLED_BACK = {
    "513201-ZJ-117": "建设工程消防验收需专业技术人员现场查验，审批局试运行期间缺少消防技术审查力量，按时办结率低于划转前，"
    "经市政府批准退回市住房和城乡建设局实施",
    "513201-NY-104": "动物防疫条件审查依赖畜牧兽医技术人员现场评估，试运行期间办理时间长于划转前，经市政府批准退回市农业农村局实施",
}
EXTENDED = {
    "513201-SW-001": "试运行期间办件量过少，不足以评价，延长试运行至年底",
    "513201-SW-105": "河道采砂许可试运行期间仅有零星办件，且涉及汛期禁采，延长试运行至年底",
    "513201-YJ-101": "危险化学品经营许可现场核查与应急管理部门的衔接机制尚在完善，延长试运行至年底",
    "513201-SCJG-112": "药品零售企业经营许可的现场检查人员尚在培训，延长试运行至年底",
    "513201-WJ-001": "医疗机构执业登记与卫生监督衔接尚需磨合，延长试运行至年底",
    "513201-LC-101": "林木采伐许可与林长制改革衔接，原部门机构调整未完成，延长试运行至年底",
}
GO_LIVE_NOTE = "试运行期间办件提速、按时办结率提高，转入正式运行"

# Relative popularity by words in the item's name (cases a month at the origin, before the transfer).
_POPULAR = (
    ("个体工商户设立", 45.0),
    ("个体工商户变更", 14.0),
    ("个体工商户注销", 10.0),
    ("食品经营许可", 38.0),
    ("企业设立", 12.0),
    ("企业变更", 10.0),
    ("企业注销", 5.0),
    ("教师资格", 12.0),
    ("道路货物运输", 8.0),
    ("出租汽车车辆运营证", 6.0),
    ("道路旅客运输经营", 2.0),
    ("食品小作坊", 5.0),
    ("农民专业合作社", 4.0),
    ("乡村建设规划许可", 6.0),
    ("建筑工程施工许可", 4.0),
    ("临时用地", 3.0),
    ("动产抵押", 3.0),
    ("医疗机构执业", 2.0),
    ("公共场所卫生", 6.0),
    ("旅馆业", 2.0),
    ("林木采伐", 2.0),
    ("占用、挖掘", 2.0),
    ("挖掘城市道路", 3.0),
    ("占用城市道路", 3.0),
)


def outcome_of(code: str) -> tuple[Decision, str]:
    """The end-of-trial decision of an item, with the reason (or note) recorded with it."""
    if code in ROLLED_BACK:
        return Decision.ROLL_BACK, ROLLED_BACK[code]
    if code in EXTENDED:
        return Decision.EXTEND, EXTENDED[code]
    return Decision.GO_LIVE, GO_LIVE_NOTE


def monthly_rate(name: str, rng: random.Random) -> float:
    """Cases a month an item gets: from the popular list, else a small draw (most items are rare)."""
    for words, rate in _POPULAR:
        if words in name:
            return rate
    return rng.choice((0.15, 0.25, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0))


@dataclass(frozen=True)
class Service:
    """How a department serves an item: share of the promised working days a case takes, chance it runs late."""

    low: float
    high: float
    late: float


BEFORE = Service(0.35, 0.85, 0.08)  # origin department, 2019-06 to the cut-over
BUREAU = Service(0.10, 0.50, 0.01)  # the bureau during the trial (most items)
STRUGGLING = Service(0.70, 1.00, 0.30)  # the bureau on the two items it gives back


@dataclass(frozen=True)
class GeneratedCase:
    row: list[str]
    during: bool  # handled by the bureau during the trial (else by the origin department before it)


def _working_days(start: date, end: date, calendar: ServiceCalendar) -> list[date]:
    out, d = [], start
    while d < end:
        if calendar.is_working_day(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def _moment(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(9), tzinfo=SHANGHAI) + timedelta(minutes=rng.randrange(0, 480))


def generate_cases(
    plan: Plan,
    catalogue: Catalogue,
    calendar: ServiceCalendar,
    *,
    scale: float = 1.0,
    seed: int = SEED,
) -> list[GeneratedCase]:
    """Every item's cases before and during the trial (deterministic from ``seed``); ``scale`` thins the
    volumes (tests use a fraction; at least the popular items keep cases on both sides)."""
    rng = random.Random(seed)
    trial_end = plan.trial_end + timedelta(days=1)
    cut_overs = {b.no: b.cut_over.astimezone(SHANGHAI).date() for b in plan.batches}
    out: list[GeneratedCase] = []
    seq = 0
    for item in plan.items:
        matter = catalogue.matters[item.code]
        rate = monthly_rate(item.name, rng) * scale
        cut = cut_overs[item.batch]
        decision, _ = outcome_of(item.code)
        bureau_service = STRUGGLING if decision is Decision.ROLL_BACK else BUREAU
        for during, start, end, department, service in (
            (False, BEFORE_START, cut, item.department, BEFORE),
            (True, cut, trial_end, plan.bureau, bureau_service),
        ):
            days = _working_days(start, end, calendar)
            months = (end - start).days / 30.4
            expected = rate * months
            n = int(expected) + (1 if rng.random() < expected - int(expected) else 0)
            for day in sorted(rng.choice(days) for _ in range(n)):
                seq += 1
                row = _row(seq, item.code, matter.name, department, plan, day, service, matter.promised_days,
                           matter.day_type, calendar, rng)  # fmt: skip
                out.append(GeneratedCase(row, during))
    return out


def _row(
    seq: int,
    code: str,
    name: str,
    department: str,
    plan: Plan,
    day: date,
    service: Service,
    promised: int,
    day_type: DayType,
    calendar: ServiceCalendar,
    rng: random.Random,
) -> list[str]:
    accepted = _moment(day, rng)
    submitted = accepted - timedelta(minutes=rng.randrange(5, 90))
    case_no = f"LEGACY-MKE-{day:%Y%m}-{seq:06d}"
    roll = rng.random()
    if roll < 0.01:  # refused at intake: never accepted
        return _csv(case_no, code, name, department, plan, submitted, None, submitted + timedelta(hours=2), "refused",
                    promised, day_type)  # fmt: skip
    if roll < 0.02:  # withdrawn by the applicant after acceptance
        withdrawn = accepted + timedelta(hours=rng.randrange(2, 72))
        return _csv(case_no, code, name, department, plan, submitted, accepted, withdrawn, "withdrawn", promised,
                    day_type)  # fmt: skip
    if rng.random() < service.late:
        taken = promised + rng.randrange(1, max(2, promised // 2 + 2))
    else:
        taken = round(promised * rng.uniform(service.low, service.high))
    if day_type is DayType.NATURAL:
        end_day = day + timedelta(days=taken)
    else:
        end_day, _ = calendar.add_days(day, taken, DayType.WORKING, allow_provisional=True)
    completed = _moment(end_day, rng)
    if completed <= accepted:
        completed = accepted + timedelta(minutes=rng.randrange(20, 240))
    result = "granted" if rng.random() < 0.97 else "denied"
    return _csv(case_no, code, name, department, plan, submitted, accepted, completed, result, promised, day_type)


def _csv(
    case_no: str,
    code: str,
    name: str,
    department: str,
    plan: Plan,
    submitted: datetime,
    accepted: datetime | None,
    completed: datetime | None,
    result: str,
    promised: int,
    day_type: DayType,
) -> list[str]:
    return [
        case_no,
        code,
        name,
        "licensing",
        plan.level.value,
        plan.region,
        department,
        f"申请人{case_no[-6:]}",
        submitted.isoformat(timespec="seconds"),
        accepted.isoformat(timespec="seconds") if accepted else "",
        completed.isoformat(timespec="seconds") if completed else "",
        result,
        str(promised),
        day_type.value,
    ]


def to_csv(cases: Iterable[GeneratedCase]) -> str:
    """The import file (docs/data-formats.md, "Historical import")."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(IMPORT_COLUMNS)
    for c in cases:
        w.writerow(c.row)
    return out.getvalue()


@dataclass(frozen=True)
class Side:
    """One item's service on one side of the cut-over, from generated rows (what the read models will say)."""

    completed: int
    on_time: int
    working_days: float  # average, acceptance to completion

    @property
    def on_time_rate(self) -> float | None:
        return None if not self.completed else 100.0 * self.on_time / self.completed


def summarise(cases: Iterable[GeneratedCase], calendar: ServiceCalendar) -> dict[tuple[str, bool], Side]:
    """(item code, during) -> figures of the completed (granted/denied) cases: for tests and the summary."""
    acc: dict[tuple[str, bool], list[tuple[bool, int]]] = {}
    for c in cases:
        r = dict(zip(IMPORT_COLUMNS, c.row, strict=True))
        if r["result"] not in ("granted", "denied"):
            continue
        accepted = datetime.fromisoformat(r["accepted_at"])
        completed = datetime.fromisoformat(r["completed_at"])
        deadline = calendar.deadline(accepted, int(r["promised_days"]), DayType(r["day_type"])).at
        days = calendar.count_days(accepted.date(), completed.date(), DayType.WORKING, allow_provisional=True)
        acc.setdefault((r["matter_code"], c.during), []).append((completed <= deadline, days))
    return {k: Side(len(v), sum(1 for ok, _ in v if ok), sum(d for _, d in v) / len(v)) for k, v in acc.items() if v}
