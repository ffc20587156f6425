"""Routing as cases consume it, in memory (eventsourcing's POPO store: no I/O).

The authority valid at acceptance handles a case: ``CaseApplication`` reads the matter's stored
``MatterRouting`` and, at acceptance (by staff or deemed by law), first records ``Rerouted`` for a
case whose matter changed authority since submission. Posts follow recorded ``StaffMember`` moves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.cases.application import CaseApplication
from domain.cases.model import CaseStatus, TimeRules
from domain.cases.steps import Accept, Decide, Notice, SubmitCase
from domain.catalogue import Authority, Level, default_catalogue
from domain.errors import IllegalTransition, UnknownActor
from domain.routing import RoutingCause
from domain.staff import SYSTEM_ACTOR, Actor, default_staff
from projections.cases import CasesProjection

CODE = "513201-SCJG-001"
BUREAU = Authority("马尔康市行政审批局", Level.COUNTY, "马尔康市")
SCJG = default_catalogue().get(CODE).authority
STAFF = default_staff()
FRONT = STAFF.get("513201-qt-a")
ADMIN = Actor("513201-admin", "改革办管理员", "马尔康市人民政府办公室", "reviewer", "马尔康市")
T0 = datetime(2020, 5, 27, 2, tzinfo=UTC)  # Wednesday 10:00 in Shanghai
RULES = TimeRules()


@pytest.fixture
def app() -> CaseApplication:
    return CaseApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def change(
    app: CaseApplication, to: Authority, at: datetime, n: int, cause: RoutingCause = RoutingCause.TRANSFER
) -> None:
    app.routing.change_authority(CODE, to, effective_from=at, approved_by="马尔康市人民政府", legal_basis="马府发〔2020〕1号",
                                 reason="划转", cause=cause, source="transfer:p", actor=ADMIN, at=at, command_id=f"r{n}")  # fmt: skip


def submit(app: CaseApplication, case_no: str, at: datetime, materials: list[str] | None = None) -> None:
    given = list(default_catalogue().get(CODE).materials) if materials is None else materials
    app.submit(SubmitCase(case_no=case_no, matter_code=CODE, applicant="某某", provided_materials=given, actor=FRONT),
               at=at, command_id=f"{case_no}/submit", rules=RULES)  # fmt: skip


def test_routing_is_read_from_the_stored_changes(app: CaseApplication) -> None:
    assert app.routing.competent_authority(CODE, T0) == SCJG  # no stream yet: the catalogue's seed
    change(app, BUREAU, T0 + timedelta(days=5), 1)
    assert app.routing.competent_authority(CODE, T0) == SCJG
    assert app.routing.competent_authority(CODE, T0 + timedelta(days=5)) == BUREAU
    assert app.routing.transfer_programme(CODE) == "p"
    change(app, SCJG, T0 + timedelta(days=9), 2, RoutingCause.ROLL_BACK)
    assert app.routing.competent_authority(CODE, T0 + timedelta(days=10)) == SCJG
    assert [c.cause for c in app.routing.history(CODE)] == [RoutingCause.TRANSFER, RoutingCause.ROLL_BACK]


def test_acceptance_after_the_cut_over_reroutes_first(app: CaseApplication) -> None:
    submit(app, "A-1", T0)
    change(app, BUREAU, T0 + timedelta(hours=1), 1)
    out = app.execute("A-1", Accept(actor=FRONT), at=T0 + timedelta(hours=2), command_id="A-1/accept", rules=RULES)
    assert (out.case.department, out.case.status) == (BUREAU.department, CaseStatus.UNDER_REVIEW)
    history = app.history("A-1")
    assert [e.event for e in history] == ["Submitted", "Rerouted", "Accepted"]
    assert history[1].details["from_department"] == SCJG.department and history[1].awaiting is not None
    # Retried with the same command id: nothing recorded twice.
    again = app.execute("A-1", Accept(actor=FRONT), at=T0 + timedelta(hours=3), command_id="A-1/accept", rules=RULES)
    assert not again.recorded and len(app.history("A-1")) == 3


def test_deemed_acceptance_reroutes_too(app: CaseApplication) -> None:
    submit(app, "D-1", T0)
    change(app, BUREAU, T0 + timedelta(hours=1), 1)
    deemed_at = app.get_case("D-1").deemed_acceptance_at
    assert deemed_at is not None
    app.execute("D-1", Accept(actor=SYSTEM_ACTOR, deemed=True), at=deemed_at, command_id="D-1/deemed", rules=RULES)
    assert [e.event for e in app.history("D-1")] == ["Submitted", "Rerouted", "Accepted"]
    assert app.get_case("D-1").department == BUREAU.department


def test_a_case_accepted_before_the_cut_over_stays(app: CaseApplication) -> None:
    submit(app, "S-1", T0)
    app.execute("S-1", Accept(actor=FRONT), at=T0 + timedelta(hours=1), command_id="S-1/accept", rules=RULES)
    change(app, BUREAU, T0 + timedelta(days=1), 1)
    reviewer = STAFF.get("513201-scjg-a")
    out = app.execute("S-1", Decide(actor=reviewer, outcome="grant"), at=T0 + timedelta(days=2), command_id="S-1/d",
                      rules=RULES)  # fmt: skip
    assert out.case.department == SCJG.department and not out.supervision_task  # no programme item stored
    assert "Rerouted" not in [e.event for e in app.history("S-1")]


def test_a_refused_acceptance_records_no_move(app: CaseApplication) -> None:
    submit(app, "R-1", T0, materials=["营业执照复印件"])
    change(app, BUREAU, T0 + timedelta(hours=1), 1)
    with pytest.raises(IllegalTransition):  # materials missing: nothing at all is recorded
        app.execute("R-1", Accept(actor=FRONT), at=T0 + timedelta(hours=2), command_id="R-1/a", rules=RULES)
    assert [e.event for e in app.history("R-1")] == ["Submitted"]
    missing = app.get_case("R-1").missing_materials
    app.execute("R-1", Notice(actor=FRONT, materials=missing), at=T0 + timedelta(hours=3), command_id="R-1/n",
                rules=RULES)  # fmt: skip
    assert app.get_case("R-1").department == SCJG.department  # only acceptance moves a case


def test_a_move_changes_the_post_a_person_acts_in(app: CaseApplication) -> None:
    assert app.staff.get("513201-scjg-b").department == SCJG.department
    app.staff.reassign("513201-scjg-b", department=BUREAU.department, post="reviewer", region="马尔康市",
                       reason="人随事走", source="transfer:p", actor=ADMIN, at=T0, command_id="m1")  # fmt: skip
    moved = app.staff.get("513201-scjg-b")
    assert moved.department == BUREAU.department
    assert "513201-scjg-b" in [a.user_id for a in app.staff.holders(BUREAU.department, "reviewer", "马尔康市")]
    assert "513201-scjg-b" not in [a.user_id for a in app.staff.holders(SCJG.department, "reviewer", "马尔康市")]
    assert next(a for a in app.staff.all() if a.user_id == "513201-scjg-b") == moved
    with pytest.raises(UnknownActor):  # acting with the post held before the move is refused
        app._actor(STAFF.get("513201-scjg-b"))
    assert app._actor(moved) == moved


def test_the_cases_projection_handles_every_case_event() -> None:
    assert CasesProjection().decoder.missing_handlers() == []
