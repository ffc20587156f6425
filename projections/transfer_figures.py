"""Trial figures of a transferred item over a window, from the case read model (``case_facts``).

What the weekly snapshot of ``ItemTransferWorkflow`` records (and the reports may reuse): of the
item's cases handled by ``department`` (the bureau) in ``region``, the cases ACCEPTED in the window,
the cases COMPLETED in it, the on-time rate of those completed (percent), how many of them were
completed late, and their average working days from acceptance to completion on the service
calendar. ``start`` and ``end`` are a half-open window ``[start, end)``: aware moments, or local
(Beijing) dates meaning their midnight.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from sqlalchemy import Engine, and_, func, select

from domain.calendar import SHANGHAI, DayType, ServiceCalendar, default_calendar, to_local
from domain.transfer.item import TrialFigures, week_start_of
from projections.tables import case_facts


def _naive_utc(moment: date | datetime) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0), tzinfo=SHANGHAI)
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def trial_figures(
    engine: Engine,
    *,
    matter_code: str,
    department: str,
    region: str,
    start: date | datetime,
    end: date | datetime,
    calendar: ServiceCalendar | None = None,
) -> TrialFigures:
    calendar = calendar or default_calendar()
    t0, t1 = _naive_utc(start), _naive_utc(end)
    scope = and_(
        case_facts.c.matter_code == matter_code,
        case_facts.c.department == department,
        case_facts.c.region == region,
    )
    with engine.connect() as conn:
        accepted = conn.execute(
            select(func.count())
            .select_from(case_facts)
            .where(scope, case_facts.c.accepted_at >= t0, case_facts.c.accepted_at < t1)
        ).scalar_one()
        done = conn.execute(
            select(case_facts.c.accepted_at, case_facts.c.completed_at, case_facts.c.on_time).where(
                scope, case_facts.c.completed_at >= t0, case_facts.c.completed_at < t1
            )
        ).all()
    completed = len(done)
    on_time = sum(1 for r in done if r.on_time is None or bool(r.on_time))
    days = [
        calendar.count_days(
            to_local(_aware(r.accepted_at)).date(), to_local(_aware(r.completed_at)).date(), DayType.WORKING,
            allow_provisional=True,
        )
        for r in done
        if r.accepted_at is not None
    ]  # fmt: skip
    return TrialFigures(
        week_start=week_start_of(start),
        accepted=int(accepted),
        completed=completed,
        on_time_rate=round(100.0 * on_time / completed, 1) if completed else None,
        overdue=completed - on_time,
        avg_working_days=round(sum(days) / len(days), 2) if days else None,
        recorded_at=datetime.now(UTC),
    )
