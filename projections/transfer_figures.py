"""Trial figures of a transferred item over a window, from the case read model (``case_facts``).

What the weekly snapshot of ``ItemTransferWorkflow`` records (and the reports may reuse): of the
item's cases handled by ``department`` (the bureau) in ``region``, the cases ACCEPTED in the window,
the cases COMPLETED in it, the on-time rate of those completed (percent), how many of them were
completed late, and their average working days from acceptance to completion on the service
calendar, counted as the trial-run report counts them (``projections.transfer_queries.working_days``: the
days after the acceptance day through the completion day, less suspended days; a case without an on-time
mark is not counted on time), so the weekly snapshots and the report's BEFORE/AFTER figures agree. ``start`` and ``end`` are a half-open window ``[start, end)``: aware moments, or local
(Beijing) dates meaning their midnight.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import Engine, and_, select

from domain.calendar import SHANGHAI, ServiceCalendar, default_calendar
from domain.transfer.item import TrialFigures, week_start_of
from projections.tables import case_facts
from projections.transfer_queries import CaseTimes, working_days


def _naive_utc(moment: date | datetime) -> datetime:
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, time(0), tzinfo=SHANGHAI)
    return moment.astimezone(UTC).replace(tzinfo=None)


Window = tuple[date | datetime, date | datetime]


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
    return trial_figures_of(engine, matter_code=matter_code, department=department, region=region,
                            windows=[(start, end)], calendar=calendar)[0]  # fmt: skip


def trial_figures_of(
    engine: Engine,
    *,
    matter_code: str,
    department: str,
    region: str,
    windows: Sequence[Window],
    calendar: ServiceCalendar | None = None,
) -> list[TrialFigures]:
    """The figures of each window (a snapshot's due weeks), from ONE read of the item's cases over all of them:
    a snapshot that catches up on twenty weeks costs two queries, not forty."""
    if not windows:
        return []
    calendar = calendar or default_calendar()
    bounds = [(_naive_utc(a), _naive_utc(b)) for a, b in windows]
    t0, t1 = min(a for a, _ in bounds), max(b for _, b in bounds)
    scope = and_(
        case_facts.c.matter_code == matter_code,
        case_facts.c.department == department,
        case_facts.c.region == region,
    )
    with engine.connect() as conn:
        accepted_at = conn.execute(
            select(case_facts.c.accepted_at).where(scope, case_facts.c.accepted_at >= t0, case_facts.c.accepted_at < t1)
        ).scalars().all()  # fmt: skip
        done = conn.execute(
            select(
                case_facts.c.accepted_at, case_facts.c.completed_at, case_facts.c.on_time, case_facts.c.suspended_days
            ).where(scope, case_facts.c.completed_at >= t0, case_facts.c.completed_at < t1)
        ).all()
    out: list[TrialFigures] = []
    for (start, _), (a, b) in zip(windows, bounds, strict=True):
        in_window = [r for r in done if a <= r.completed_at < b]
        completed = len(in_window)
        on_time = sum(1 for r in in_window if r.on_time)
        days = [
            working_days(CaseTimes(r.accepted_at, r.completed_at, r.on_time, int(r.suspended_days or 0)), calendar)
            for r in in_window
            if r.accepted_at is not None
        ]
        out.append(
            TrialFigures(
                week_start=week_start_of(start),
                accepted=sum(1 for x in accepted_at if a <= x < b),
                completed=completed,
                on_time_rate=round(100.0 * on_time / completed, 1) if completed else None,
                overdue=completed - on_time,
                avg_working_days=round(sum(days) / len(days), 2) if days else None,
                recorded_at=datetime.now(UTC),
            )
        )
    return out
