"""Durable routing: the catalogue seeds, recorded changes win from their moment on, acceptance fixes the authority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.application import Application

from domain.catalogue import Authority, Level, default_catalogue
from domain.errors import ERRORS_BY_CODE, InvalidValue
from domain.routing import (
    MatterRouting,
    RoutingCause,
    RoutingNoChange,
    RoutingOutOfOrder,
    RoutingPolicy,
    handling_posts,
    routing_id,
)
from domain.staff import SYSTEM_ACTOR, Post

CODE = "513201-SCJG-001"  # 食品经营许可, 马尔康市市场监督管理局
ORIGIN = Authority("马尔康市市场监督管理局", Level.COUNTY, "马尔康市")
BUREAU = Authority("马尔康市行政审批局", Level.COUNTY, "马尔康市")
CUT_OVER = datetime(2020, 5, 31, 16, tzinfo=UTC)  # 2020-06-01 00:00 Beijing time
ROLL_BACK = datetime(2020, 10, 31, 16, tzinfo=UTC)


def routing(*changes: tuple[Authority, datetime, RoutingCause]) -> MatterRouting:
    r = MatterRouting.open(
        default_catalogue().get(CODE), actor=SYSTEM_ACTOR, at=CUT_OVER - timedelta(days=30), command_id="open"
    )
    for i, (authority, moment, cause) in enumerate(changes):
        change(r, authority, moment, cause, f"c{i}")
    return r


def change(r: MatterRouting, authority: Authority, moment: datetime, cause: RoutingCause, command_id: str) -> None:
    r.change_authority(
        authority,
        effective_from=moment,
        approved_by="马尔康市人民政府",
        legal_basis="《中华人民共和国行政许可法》第二十五条",
        reason="相对集中行政许可权改革",
        cause=cause,
        source="maerkang-2020/513201-SCJG-001",
        actor=SYSTEM_ACTOR,
        at=moment - timedelta(hours=1),
        command_id=command_id,
    )


def test_the_catalogue_answers_until_a_change_takes_effect_and_the_change_from_its_moment_on() -> None:
    policy = RoutingPolicy.from_routings(default_catalogue(), [routing((BUREAU, CUT_OVER, RoutingCause.TRANSFER))])
    assert policy.competent_authority(CODE, CUT_OVER - timedelta(seconds=1)) == ORIGIN
    assert policy.competent_authority(CODE, CUT_OVER) == BUREAU  # inclusive
    assert policy.competent_authority("513201-SCJG-002", CUT_OVER) == ORIGIN  # other matters untouched


def test_a_roll_back_is_one_more_change_back_to_the_origin() -> None:
    r = routing((BUREAU, CUT_OVER, RoutingCause.TRANSFER), (ORIGIN, ROLL_BACK, RoutingCause.ROLL_BACK))
    policy = RoutingPolicy.from_routings(default_catalogue(), [r])
    assert policy.competent_authority(CODE, ROLL_BACK - timedelta(days=1)) == BUREAU
    assert policy.competent_authority(CODE, ROLL_BACK) == ORIGIN
    assert [c.cause for c in policy.changes_between(CODE, CUT_OVER - timedelta(days=1), ROLL_BACK)] == [
        RoutingCause.TRANSFER,
        RoutingCause.ROLL_BACK,
    ]
    assert policy.changes_between(CODE, CUT_OVER, ROLL_BACK - timedelta(seconds=1)) == []  # t0 exclusive


def test_a_planned_cut_over_is_cancelled_by_a_change_back_at_the_same_moment() -> None:
    r = routing((BUREAU, CUT_OVER, RoutingCause.TRANSFER), (ORIGIN, CUT_OVER, RoutingCause.LIST_REMOVAL))
    policy = RoutingPolicy.from_routings(default_catalogue(), [r])
    assert policy.competent_authority(CODE, CUT_OVER + timedelta(days=3)) == ORIGIN


def test_routing_survives_the_event_store_and_a_second_process_routes_the_same_way() -> None:
    app = Application()
    app.save(routing((BUREAU, CUT_OVER, RoutingCause.TRANSFER)))
    again = app.repository.get(routing_id(CODE))  # what a second worker would load
    assert isinstance(again, MatterRouting)
    change = again.changes[0]
    assert (change.authority, change.effective_from, change.cause) == (BUREAU, CUT_OVER, RoutingCause.TRANSFER)
    assert change.approved_by == "马尔康市人民政府" and change.source == "maerkang-2020/513201-SCJG-001"
    assert RoutingPolicy.from_routings(default_catalogue(), [again]).competent_authority(CODE, CUT_OVER) == BUREAU


def test_refusals_record_nothing_and_a_retried_command_records_once() -> None:
    r = routing((BUREAU, CUT_OVER, RoutingCause.TRANSFER))
    with pytest.raises(RoutingNoChange) as no_change:
        change(r, BUREAU, ROLL_BACK, RoutingCause.ADJUSTMENT, "again")
    assert no_change.value.code == "ROUTING_NO_CHANGE" and "无需调整" in no_change.value.message
    with pytest.raises(RoutingOutOfOrder):
        change(r, ORIGIN, CUT_OVER - timedelta(days=1), RoutingCause.ROLL_BACK, "earlier")
    with pytest.raises(InvalidValue):
        change(r, ORIGIN, datetime(2020, 11, 1), RoutingCause.ROLL_BACK, "naive")
    change(r, BUREAU, CUT_OVER, RoutingCause.TRANSFER, "c0")  # the same command again: already done
    assert len(r.changes) == 1 and len(r.collect_events()) == 2  # Opened + one change
    assert ERRORS_BY_CODE["ROUTING_OUT_OF_ORDER"] is RoutingOutOfOrder


SUBMITTED = CUT_OVER - timedelta(days=2)


def policy_after_cut_over() -> RoutingPolicy:
    return RoutingPolicy.from_routings(default_catalogue(), [routing((BUREAU, CUT_OVER, RoutingCause.TRANSFER))])


def test_a_case_accepted_before_the_cut_over_stays_with_the_department() -> None:
    moved = policy_after_cut_over().reroute_needed(
        matter_code=CODE, submitted_at=SUBMITTED, accepted_at=CUT_OVER - timedelta(days=1), now=CUT_OVER + timedelta(1)
    )
    assert moved is None


def test_a_case_submitted_before_and_not_yet_accepted_moves_to_the_bureau_once() -> None:
    policy = policy_after_cut_over()
    assert policy.reroute_needed(matter_code=CODE, submitted_at=SUBMITTED, accepted_at=None, now=CUT_OVER) == BUREAU
    assert (
        policy.reroute_needed(
            matter_code=CODE, submitted_at=SUBMITTED, accepted_at=None, now=CUT_OVER, routed_to=BUREAU
        )
        is None
    )  # already moved
    assert (
        policy.reroute_needed(
            matter_code=CODE, submitted_at=SUBMITTED, accepted_at=None, now=CUT_OVER - timedelta(minutes=1)
        )
        is None
    )  # before the cut-over nothing moves


def test_a_case_submitted_after_the_cut_over_is_the_bureaus_from_the_start() -> None:
    policy = policy_after_cut_over()
    submitted = CUT_OVER + timedelta(hours=9)
    assert policy.competent_authority(CODE, submitted) == BUREAU
    assert policy.reroute_needed(matter_code=CODE, submitted_at=submitted, accepted_at=None, now=submitted) is None


def test_the_bureau_reviews_while_the_service_centre_windows_take_in_and_hand_out() -> None:
    posts = handling_posts(BUREAU)
    assert (posts.reviewer.department, posts.reviewer.post) == ("马尔康市行政审批局", Post.REVIEWER.value)
    assert posts.front_desk.department == posts.output_window.department == "马尔康市政务服务中心"
    assert handling_posts(ORIGIN).front_desk == posts.front_desk  # a transfer changes only who reviews
