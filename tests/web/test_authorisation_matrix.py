"""Every role × every staff step (and submission) over HTTP: only the pairs the role table allows succeed,
and a refused pair writes nothing. Each user holds exactly the post the step needs, in the case's county
and department, so the role alone decides. Storage plays no part here: it runs on SQLite only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.cases.steps import STEPS, Step
from domain.identity import ROLE_STEPS, Role, UserAccount
from services.identity import default_scope
from tests.web.conftest import FRONT, MATTER, OUTPUT, REVIEWER, WebStack

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("web", ["sqlite"], indirect=True)]

POST_STAFF = {"front_desk": "513221-qt-b", "reviewer": "513221-scjg-b", "output_window": "513221-cj-a"}
# step → (materials complete?, steps taken first by the demo staff, the post that acts, body)
PLAN: dict[Step, tuple[bool, list[tuple[str, str, dict[str, Any]]], str, dict[str, Any]]] = {
    Step.NOTICE: (False, [], "front_desk", {}),
    Step.SUPPLEMENT: (False, [(FRONT, "notice", {})], "front_desk", {}),
    Step.ACCEPT: (True, [], "front_desk", {}),
    Step.REFUSE: (True, [], "front_desk", {"reason": "申请事项不属于本机关职权范围"}),
    Step.SUSPEND: (True, [(FRONT, "accept", {})], "reviewer", {"reason": "testing"}),
    Step.RESUME: (True, [(FRONT, "accept", {}), (REVIEWER, "suspend", {"reason": "hearing"})], "reviewer", {}),
    Step.DECIDE: (True, [(FRONT, "accept", {})], "reviewer", {"outcome": "grant"}),
    Step.DELIVER: (True, [(FRONT, "accept", {}), (REVIEWER, "decide", {"outcome": "grant"})], "output_window", {}),
    Step.WITHDRAW: (True, [], "front_desk", {"reason": "申请人主动撤回"}),
}


@pytest.fixture(scope="module")
def users(web: WebStack) -> dict[tuple[Role, str], dict[str, str]]:
    """One user per role and post, all in 汶川县 (reviewers in the matter's department)."""
    out = {}
    tag = uuid.uuid4().hex[:5]
    identity = web.boot.identity
    accounts = []
    for role in Role:  # they sign in with tokens only: one password hash for all, saved in one go
        for post, staff_id in POST_STAFF.items():
            name = f"m-{tag}-{role.value}-{post}".replace("_", "")
            staff = web.boot.directory.actor(staff_id)
            accounts.append(UserAccount.register(
                name, display_name=name, password_hash="unusable", roles=[role], scope=default_scope([role], staff),
                staff_id=staff_id, must_change_password=False, actor={"user_id": "tests"}, at=datetime.now(UTC),
                command_id=f"tests/{name}",
            ))  # fmt: skip
            out[(role, post)] = name
    web.boot.store.save(*accounts)
    return {k: {"authorization": f"Bearer {identity.issue_token(v, 'matrix', by={'user_id': 'tests'})[1]}"}
            for k, v in out.items()}  # fmt: skip


def prepare(web: WebStack, step: Step) -> str:
    complete, before, _, _ = PLAN[step]
    c = web.client().http
    no = f"M-{uuid.uuid4().hex[:10]}"
    body = {"matter_code": MATTER, "applicant": "矩阵测试", "case_no": no}
    body.update({"all_materials": True} if complete else {"materials": ["营业执照复印件"]})
    assert c.post("/api/cases", headers=web.token(FRONT), json=body).status_code == 200
    for user, name, data in before:
        r = c.post(f"/api/cases/{no}/{name}", headers=web.token(user), json=data)
        assert r.status_code == 200, (step, name, r.text)
    return no


def test_submission_is_for_the_front_desk_only(web: WebStack, users: dict[tuple[Role, str], dict[str, str]]) -> None:
    c = web.client().http
    for role in Role:
        no = f"S-{uuid.uuid4().hex[:10]}"
        r = c.post("/api/cases", headers=users[(role, "front_desk")],
                   json={"matter_code": MATTER, "applicant": "甲", "case_no": no, "all_materials": True})  # fmt: skip
        assert r.status_code == (200 if role is Role.FRONT_DESK else 403), (role, r.text)
        assert (c.get(f"/api/cases/{no}", headers=web.token(FRONT)).status_code == 200) is (role is Role.FRONT_DESK)


@pytest.mark.parametrize("step", [s for s in PLAN], ids=lambda s: s.value)
def test_every_role_on_this_step(web: WebStack, users: dict[tuple[Role, str], dict[str, str]], step: Step) -> None:
    assert set(PLAN) == {s for s, spec in STEPS.items() if spec.staff}, "every staff step is in the matrix"
    _, _, post, body = PLAN[step]
    c = web.client().http
    allowed = [r for r in Role if step in ROLE_STEPS[r]]
    refused = [r for r in Role if r not in allowed]
    no = prepare(web, step)
    for role in refused:
        before = web.boot.store.get_case(no).version
        r = c.post(f"/api/cases/{no}/{step.value}", headers=users[(role, post)], json=body)
        assert r.status_code == 403, (role, step, r.text)
        assert r.json()["code"] == "FORBIDDEN" and r.json()["message"]
        assert web.boot.store.get_case(no).version == before, f"{role} wrote something on {step}"
    assert allowed, step
    for i, role in enumerate(allowed):
        target = no if i == 0 else prepare(web, step)
        r = c.post(f"/api/cases/{target}/{step.value}", headers=users[(role, post)], json=body)
        assert r.status_code == 200, (role, step, r.text)
    # The matrix as the role table gives it (documented in docs/web.md).
    assert {r.value for r in allowed} == {
        Step.NOTICE: {"front_desk"}, Step.SUPPLEMENT: {"front_desk"}, Step.ACCEPT: {"front_desk"},
        Step.REFUSE: {"front_desk"}, Step.SUSPEND: {"reviewer", "bureau_approver"},
        Step.RESUME: {"reviewer", "bureau_approver"}, Step.DECIDE: {"reviewer", "bureau_approver"},
        Step.DELIVER: {"output_window"}, Step.WITHDRAW: {"front_desk", "reviewer", "bureau_approver"},
    }[step]  # fmt: skip


def test_the_right_role_with_the_wrong_post_is_refused_by_the_workflow_rules(
    web: WebStack, users: dict[tuple[Role, str], dict[str, str]]
) -> None:
    """A front-desk role linked to the output window's post: the step's own rule (check_actor) refuses it."""
    no = prepare(web, Step.ACCEPT)
    before = web.boot.store.get_case(no).version
    r = web.client().http.post(f"/api/cases/{no}/accept", headers=users[(Role.FRONT_DESK, "output_window")])
    assert r.status_code == 403 and r.json()["code"] == "ACTOR_NOT_PERMITTED", r.text
    assert web.boot.store.get_case(no).version == before
    assert OUTPUT  # the demo output window exists (used by the deliver plan)
