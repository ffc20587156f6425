"""Staff assignments as events: a person who moves with a transferred item changes unit and post for everyone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from eventsourcing.application import Application

from domain.errors import InvalidValue, UnknownActor
from domain.staff import SYSTEM_ACTOR, Post, StaffDirectory, default_staff
from domain.staffing import StaffMember, StaffNoChange, StaffRoster, staff_member_id

AT = datetime(2020, 5, 31, 16, tzinfo=UTC)
BUREAU = "马尔康市行政审批局"
PERSON = "513201-scjg-a"


def moved() -> StaffMember:
    member = StaffMember.enrol(
        default_staff().get(PERSON), source="seed", actor=SYSTEM_ACTOR, at=AT, command_id="enrol"
    )
    member.reassign(
        department=BUREAU,
        post=Post.REVIEWER.value,
        region="马尔康市",
        reason="人随事走",
        source="maerkang-2020/513201-SCJG-001",
        actor=SYSTEM_ACTOR,
        at=AT,
        command_id="move",
    )
    return member


def test_the_roster_is_the_seed_overlaid_with_recorded_moves() -> None:
    app = Application()
    app.save(moved())
    member = app.repository.get(staff_member_id(PERSON))
    roster = StaffRoster.build(default_staff(), [member])
    assert isinstance(roster, StaffDirectory)  # same query API
    assert roster.get(PERSON).department == BUREAU
    assert PERSON in {a.user_id for a in roster.holders(BUREAU, Post.REVIEWER.value, "马尔康市")}
    assert PERSON not in {a.user_id for a in roster.holders("马尔康市市场监督管理局", "reviewer", "马尔康市")}
    assert len(roster.all()) == len(default_staff().all())
    assert default_staff().get(PERSON).department == "马尔康市市场监督管理局"  # the seed itself is untouched
    last = member.posts[-1]
    assert (last.department, last.source) == (BUREAU, "maerkang-2020/513201-SCJG-001")
    with pytest.raises(UnknownActor):
        roster.get("nobody")


def test_moving_back_is_one_more_event_and_the_record_keeps_every_stretch() -> None:
    member = moved()
    member.reassign(
        department="马尔康市市场监督管理局",
        post="reviewer",
        region="马尔康市",
        reason="试运行回退",
        source="maerkang-2020/513201-SCJG-001",
        actor=SYSTEM_ACTOR,
        at=AT,
        command_id="back",
    )
    assert [p.department for p in member.posts] == ["马尔康市市场监督管理局", BUREAU, "马尔康市市场监督管理局"]
    events = member.collect_events()
    assert isinstance(events[-1], StaffMember.Reassigned) and events[-1].from_department == BUREAU


def test_refused_moves_record_nothing() -> None:
    member = moved()
    before = len(member.collect_events())
    with pytest.raises(StaffNoChange) as e:
        member.reassign(
            department=BUREAU,
            post="reviewer",
            region="马尔康市",
            reason="重复",
            source="x",
            actor=SYSTEM_ACTOR,
            at=AT,
            command_id="again",
        )
    assert e.value.code == "STAFF_NO_CHANGE"
    with pytest.raises(InvalidValue):
        member.reassign(
            department=BUREAU,
            post="system",
            region="马尔康市",
            reason="x",
            source="x",
            actor=SYSTEM_ACTOR,
            at=AT,
            command_id="bad-post",
        )
    member.reassign(
        department=BUREAU,
        post="reviewer",
        region="马尔康市",
        reason="人随事走",
        source="x",
        actor=SYSTEM_ACTOR,
        at=AT,
        command_id="move",
    )  # retried: already processed
    assert before == 2 and member.collect_events() == []
