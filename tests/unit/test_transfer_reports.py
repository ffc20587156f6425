"""The transfer reports' arithmetic, pure: progress shares, outstanding sign-offs by party, behind schedule,
weekly trial totals, working days and the BEFORE/AFTER windows, supervision overdue; and that the
projection handles every event of the aggregates it follows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventsourcing.domain import Aggregate

from domain.calendar import default_calendar
from domain.transfer import LicenceItem, SupervisionTask, TransferProgramme
from projections.transfer import TransferProjection
from projections.transfer_queries import (
    CaseTimes,
    TrialTotals,
    behind_schedule,
    figures_of,
    is_overdue,
    outstanding_by_party,
    progress,
    supervision_summary,
    windows,
    working_days,
)


def item(code: str, status: str, origin: str = "甲局", batch: int | None = 1, **kw: Any) -> dict[str, Any]:
    cut = kw.pop("cut_over_at", datetime(2020, 5, 31, 16) if status in ("in_trial", "live", "rolled_back") else None)
    return {"item_id": code, "code": code, "name": f"事项{code}", "origin": origin, "bureau": "审批局",
            "batch": batch, "status": status, "cut_over_at": cut, "checklist": {}, "origin_open": 0,
            "bureau_open": 0, "behind_from": None, "trial_end": "2020-10-31", "decided_at": None,
            "removed_at": None, **kw}  # fmt: skip


def created(events: set[type]) -> set[type]:
    return {c for c in events if issubclass(c, Aggregate.Created)}


def test_every_event_of_the_followed_aggregates_has_a_handler() -> None:
    projection = TransferProjection()
    assert projection.decoder.missing_handlers() == []
    for agg in (TransferProgramme, LicenceItem, SupervisionTask):
        events = {
            cls
            for name in dir(agg)
            if isinstance(cls := getattr(agg, name), type)
            and issubclass(cls, Aggregate.Event)
            and cls.__qualname__.startswith(f"{agg.__name__}.")
            and cls is not agg.Event
        }
        # eventsourcing's default ``Created`` is never recorded: each aggregate's own creation event is.
        events = {c for c in events if not (c.__name__ == "Created" and len(events & created(events)) > 1)}
        assert events and events <= projection.decoder.handled, sorted(
            c.__name__ for c in events - projection.decoder.handled
        )


def test_progress_counts_and_shares_by_status_batch_and_department() -> None:
    items = [
        item("a", "live"),
        item("b", "in_trial"),
        item("c", "handover", batch=2),
        item("d", "rolled_back", origin="乙局"),
        item("e", "removed", origin="乙局", batch=2, cut_over_at=datetime(2020, 6, 1)),
        item("f", "catalogued", origin="乙局", batch=None),
    ]
    g = progress(
        items, [{"no": 1, "name": "第一批", "cut_over": "2020-05-31T16:00:00+00:00"}, {"no": 2, "name": "第二批"}]
    )
    assert (g["items"], g["listed"], g["cut_over"], g["cut_over_share"]) == (6, 5, 3, 60.0)  # removed: not on the list
    shares = {s["status"]: s["share"] for s in g["by_status"] if s["count"]}
    assert shares == {"live": 16.7, "in_trial": 16.7, "handover": 16.7, "rolled_back": 16.7, "removed": 16.7,
                      "catalogued": 16.7}  # fmt: skip
    assert g["outcomes"] == {"live": 1, "trial_extended": 0, "rolled_back": 1, "removed": 1}
    assert [(b["batch"], b["items"], b["listed"], b["cut_over"]) for b in g["by_batch"]] == [
        (1, 3, 3, 3), (2, 2, 1, 0), (None, 1, 1, 0)]  # fmt: skip
    yi = next(d for d in g["by_department"] if d["department"] == "乙局")
    assert (yi["items"], yi["listed"], yi["cut_over"], yi["cut_over_share"], yi["batches"]) == (
        3, 2, 1, 50.0, {"1": 1, "2": 1, "-": 1})  # fmt: skip


def test_outstanding_sign_offs_are_counted_by_party_for_items_in_handover() -> None:
    items = [
        item("a", "handover", checklist={"seal": ["origin", "bureau"], "files": ["bureau"], "duties": []},
             origin_open=1, bureau_open=2),
        item("b", "handover", origin="乙局", checklist={"accounts": ["origin"]}, origin_open=1),
        item("c", "removed", checklist={"seal": ["origin", "bureau"]}),  # not in handover: not counted
    ]  # fmt: skip
    c = outstanding_by_party(items)
    assert c["by_party"] == {"origin": 2, "bureau": 2}
    assert {e["entry"]: (e["origin"], e["bureau"]) for e in c["by_entry"]}["seal"] == (1, 1)
    assert c["by_department"] == [{"department": "乙局", "origin": 1, "bureau": 0},
                                  {"department": "甲局", "origin": 1, "bureau": 2}]  # fmt: skip
    assert [i["missing"] for i in c["items"]] == [["seal:origin", "seal:bureau", "files:bureau"], ["accounts:origin"]]


def test_behind_schedule_from_the_planned_cut_over_or_the_trials_last_day() -> None:
    planned = datetime(2020, 5, 31, 16)
    items = [
        item("late", "handover", behind_from=planned),
        item("trial", "trial_extended", behind_from=datetime(2020, 11, 30, 16), trial_end="2020-11-30"),
        item("fine", "scheduled", behind_from=datetime(2020, 6, 30, 16)),
        item("done", "live"),
    ]
    now = datetime(2020, 6, 10, tzinfo=UTC)
    assert [(b["code"], b["days"]) for b in behind_schedule(items, now)] == [("late", 9)]
    later = behind_schedule(items, datetime(2020, 12, 1, tzinfo=UTC))
    assert [b["code"] for b in later] == ["late", "fine", "trial"]
    assert "尚未作出结论" in later[-1]["reason"] and "尚未切换" in later[0]["reason"]


def test_trial_totals_weight_rates_and_days_by_cases_completed() -> None:
    t = TrialTotals()
    t.add_week({"accepted": 4, "completed": 3, "on_time_rate": 66.7, "overdue": 1, "avg_working_days": 3.0})
    t.add_week({"accepted": 2, "completed": 2, "on_time_rate": 100.0, "overdue": 0, "avg_working_days": 2.0})
    t.add_week({"accepted": 1, "completed": 0, "on_time_rate": None, "overdue": 0, "avg_working_days": None})
    assert t.to_json() == {"weeks": 3, "accepted": 7, "completed": 5, "overdue": 1, "on_time_rate": 80.0,
                           "avg_working_days": 2.6}  # fmt: skip
    assert TrialTotals().to_json()["on_time_rate"] is None


def test_working_days_count_from_the_day_after_acceptance_less_suspension() -> None:
    cal = default_calendar()
    # accepted Thu 2020-04-30, completed Thu 2020-05-07 (Beijing): 1–5 May are the Labour Day holiday,
    # the acceptance day does not count: 6 and 7 May.
    c = CaseTimes(datetime(2020, 4, 30, 2), datetime(2020, 5, 7, 8), True, 0)
    assert working_days(c, cal) == 2
    assert working_days(CaseTimes(c.accepted_at, c.completed_at, True, 5), cal) == 0


def test_before_and_after_windows_have_the_same_length() -> None:
    cut = datetime(2020, 5, 31, 16)
    (b0, b1), (a0, a1) = windows(item("a", "in_trial", cut_over_at=cut), datetime(2020, 6, 30, 16, tzinfo=UTC))  # type: ignore[misc]
    assert (a0, a1, b1) == (cut, datetime(2020, 6, 30, 16), cut) and b1 - b0 == a1 - a0
    rolled = item("r", "rolled_back", cut_over_at=cut, decided_at=datetime(2020, 6, 15, 16))
    assert windows(rolled, datetime(2021, 1, 1, tzinfo=UTC))[1][1] == datetime(2020, 6, 15, 16)  # type: ignore[index]
    ended = windows(item("x", "live", cut_over_at=cut), datetime(2021, 1, 1, tzinfo=UTC))
    assert ended is not None and ended[1][1] == datetime(2020, 10, 31, 16)  # the trial's last day ends
    assert windows(item("n", "handover"), datetime(2021, 1, 1, tzinfo=UTC)) is None


def test_figures_of_a_window_count_accepted_and_completed_by_their_own_moments() -> None:
    cal = default_calendar()
    start, end = datetime(2020, 5, 31, 16), datetime(2020, 6, 30, 16)  # June, Beijing: 30 days
    cases = [
        CaseTimes(datetime(2020, 6, 1, 1), datetime(2020, 6, 3, 8), True, 0),  # 2 working days
        CaseTimes(datetime(2020, 5, 25, 1), datetime(2020, 6, 5, 8), False, 1),  # accepted before: completion counts
        CaseTimes(datetime(2020, 6, 29, 1), None, None, 0),
        CaseTimes(datetime(2020, 7, 1, 1), datetime(2020, 7, 2, 8), True, 0),  # outside
    ]
    f = figures_of(cases, start, end, cal).to_json()
    # 25 May → 5 Jun: 26–29 May, 1–5 Jun = 9 working days, less 1 suspended = 8; (2 + 8) / 2 = 5.0
    assert f == {"accepted": 2, "completed": 2, "avg_working_days": 5.0, "on_time_rate": 50.0,
                 "cases_per_month": 2.0}  # fmt: skip


def test_supervision_overdue_when_marked_or_past_the_claim_deadline_unclaimed() -> None:
    due = datetime(2020, 6, 8, 16)

    def task(no: str, status: str, late: bool = False) -> dict[str, Any]:
        return {"case_no": no, "item_code": "x", "item_name": "事项", "department": "甲局", "decision": "grant",
                "decided_at": datetime(2020, 6, 4), "claim_due": due, "status": status, "claimed_late": late}  # fmt: skip

    tasks = [task("1", "claimed", late=True), task("2", "overdue"), task("3", "open"), task("4", "claimed")]
    assert not is_overdue(tasks[2], datetime(2020, 6, 8, 15, tzinfo=UTC))
    assert is_overdue(tasks[2], datetime(2020, 6, 8, 16, tzinfo=UTC))
    s = supervision_summary(tasks, datetime(2020, 6, 9, tzinfo=UTC))
    assert s["total"] == {"issued": 4, "claimed": 2, "claimed_late": 1, "open": 2, "overdue": 2}
    assert [o["case_no"] for o in s["overdue"]] == ["2", "3"]
    assert supervision_summary(tasks, datetime(2020, 6, 1, tzinfo=UTC))["total"]["overdue"] == 1
