"""The HTTP API over real HTTP: sign-in, tokens, a case through every step, refusals with {code, message},
scope (403 and nothing written), CSRF, lock-out, escaping, reports, import, users."""

from __future__ import annotations

import time
import uuid

import pytest

from domain.identity import account_id
from tests.web.conftest import FRONT, MATTER, OTHER_FRONT, OUTPUT, REVIEWER, WebStack

pytestmark = pytest.mark.integration


def case_no() -> str:
    return f"W-{uuid.uuid4().hex[:10]}"


def events(web: WebStack, no: str) -> int:
    return len(web.boot.store.history(no))


def test_anonymous_writes_get_401_and_the_app_sends_security_headers(web: WebStack) -> None:
    c = web.client()
    for method, path, kw in (
        ("POST", "/api/cases", {"json": {"matter_code": MATTER, "applicant": "某某"}}),
        ("POST", "/api/cases", {"content": b"{not json", "headers": {"content-type": "application/json"}}),
        ("POST", "/api/cases/X-1/accept", {}),
        ("GET", "/api/cases", {}),
        ("GET", "/api/worklist", {}),
    ):
        r = c.http.request(method, path, **kw)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["code"] == "AUTH_REQUIRED" and r.json()["message"]
    r = c.http.get("/api/cases", headers={"authorization": "Bearer os1.admin.nope.nope"})
    assert r.status_code == 401 and r.json()["code"] == "AUTH_REQUIRED"
    assert c.http.get("/api/health").json() == {"status": "ok"}
    page = c.http.get("/login")
    h = page.headers
    assert (
        "script-src 'self'" in h["content-security-policy"]
        and "unsafe-inline" not in h["content-security-policy"].split("script-src")[1].split(";")[0]
    )
    assert h["x-frame-options"] == "DENY" and h["x-content-type-options"] == "nosniff" and h["referrer-policy"]
    assert "<script>" not in page.text  # no inline script anywhere: only <script src=…>
    assert c.http.get("/worklist").status_code == 303  # pages send the anonymous to the sign-in page
    spec = c.http.get("/openapi.json").json()
    assert len(spec["paths"]) >= 20
    docs = c.http.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text


def test_a_case_through_every_step_over_the_api(web: WebStack) -> None:
    front, reviewer, output = (web.token(u) for u in (FRONT, REVIEWER, OUTPUT))
    c = web.client()
    no = case_no()
    r = c.http.post("/api/cases", headers=front,
                    json={"matter_code": MATTER, "applicant": "某某餐饮店", "materials": ["营业执照复印件"], "case_no": no})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["case"]["status"] == "submitted" and len(r.json()["case"]["missing_materials"]) == 4
    # A broken rule: 409 with the Chinese message; nothing written.
    before = events(web, no)
    r = c.http.post(f"/api/cases/{no}/accept", headers=front)
    assert (
        r.status_code == 409 and r.json()["code"] == "CASE_ILLEGAL_TRANSITION" and "一次性告知" in r.json()["message"]
    )
    assert events(web, no) == before
    # A one-time notice that leaves something out.
    r = c.http.post(f"/api/cases/{no}/notice", headers=front, json={"materials": ["食品安全管理制度"]})
    assert r.status_code == 409 and r.json()["code"] == "NOTICE_REFUSED"
    for step in ("notice", "supplement", "accept"):
        r = c.http.post(f"/api/cases/{no}/{step}", headers=front, json={})
        assert r.status_code == 200, (step, r.text)
        assert r.json()["lists_lag"] is None
        if step == "supplement":  # back at the front desk: in the inbox of the clerk who issued the notice
            inbox = c.http.get("/api/worklist", params={"tab": "inbox"}, headers=front).json()
            assert no in [i["ref"] for i in inbox["items"]]
    # Read-your-writes: the list already shows it, and it is in the reviewer's worklist.
    found = c.http.get("/api/cases", params={"case_no": no}, headers=front).json()
    assert found["items"][0]["status"] == "under_review"
    work = c.http.get("/api/worklist", headers=reviewer).json()
    assert any(i["ref"] == no for i in work["items"])
    detail = c.http.get(f"/api/cases/{no}", headers=reviewer).json()
    assert {s["step"] for s in detail["steps"]} == {"suspend", "decide", "withdraw"}
    assert detail["deadlines"][0]["key"] == "promised" and detail["deadlines"][0]["days_left"] >= 1
    r = c.http.post(f"/api/cases/{no}/decide", headers=reviewer, json={"outcome": "maybe"})
    assert r.status_code == 422 and r.json()["code"] == "FIELD_INVALID" and "决定结果" in r.json()["message"]
    r = c.http.post(f"/api/cases/{no}/decide", headers=reviewer, json={"outcome": "grant", "extra": 1})
    assert r.status_code == 422 and r.json()["code"] == "REQUEST_INVALID"
    assert c.http.post(f"/api/cases/{no}/decide", headers=reviewer, json={"outcome": "准予"}).status_code == 200
    r = c.http.post(f"/api/cases/{no}/deliver", headers=output)
    assert r.status_code == 200 and r.json()["case"]["status"] == "completed"
    history = c.http.get(f"/api/cases/{no}/history", headers=front).json()
    acted = [(e["event"], e["actor"]["user_id"], e["actor"]["via"]) for e in history if e["actor"]]
    assert ("Accepted", FRONT, f"api:{FRONT}") in acted and ("Decided", REVIEWER, f"api:{REVIEWER}") in acted
    assert ("Delivered", OUTPUT, f"api:{OUTPUT}") in acted
    done = c.http.get("/api/worklist", params={"tab": "done"}, headers=reviewer).json()
    assert any(d["case_no"] == no for d in done["done"])


def test_another_county_sees_nothing_and_writes_nothing(web: WebStack) -> None:
    front, other = web.token(FRONT), web.token(OTHER_FRONT)
    c = web.client()
    no = case_no()
    assert c.http.post("/api/cases", headers=front, json={"matter_code": MATTER, "applicant": "甲", "case_no": no,
                                                          "all_materials": True}).status_code == 200  # fmt: skip
    before = events(web, no)
    assert c.http.get(f"/api/cases/{no}", headers=other).status_code == 403
    r = c.http.post(f"/api/cases/{no}/accept", headers=other)
    assert r.status_code == 403 and r.json()["code"] == "FORBIDDEN"
    assert events(web, no) == before
    assert c.http.get("/api/cases", params={"case_no": no}, headers=other).json()["total"] == 0
    assert c.http.get("/api/cases", params={"region": "汶川县"}, headers=other).status_code == 403
    r = c.http.post("/api/cases", headers=other, json={"matter_code": MATTER, "applicant": "乙"})
    assert r.status_code == 403
    # A reviewer of the right county and department acting for the front desk: refused by the role.
    r = c.http.post(f"/api/cases/{no}/accept", headers=web.token(REVIEWER))
    assert r.status_code == 403 and events(web, no) == before


def test_bad_input_is_422_never_500(web: WebStack) -> None:
    front = web.token(FRONT)
    c = web.client()
    cases = [
        ({"matter_code": "NOPE", "applicant": "甲"}, 404, "MATTER_UNKNOWN"),
        ({"matter_code": MATTER, "applicant": "甲\u202e乙"}, 422, "FIELD_INVALID"),
        ({"matter_code": MATTER, "applicant": "甲" * 150}, 422, "FIELD_INVALID"),
        ({"matter_code": MATTER, "applicant": ""}, 422, "FIELD_MISSING"),
        ({"matter_code": MATTER, "applicant": "甲", "case_no": "../etc"}, 422, "FIELD_INVALID"),
        ({"matter_code": MATTER}, 422, "REQUEST_INVALID"),
        ({"matter_code": MATTER, "applicant": 5}, 422, "REQUEST_INVALID"),
    ]
    for body, status, code in cases:
        r = c.http.post("/api/cases", headers=front, json=body)
        assert (r.status_code, r.json()["code"]) == (status, code), (body, r.text)
        assert r.json()["message"]
    for params in ({"limit": 0}, {"cursor": "@@@"}, {"status": "nonsense"}, {"submitted_from": "2020-13-01"}):
        r = c.http.get("/api/cases", headers=front, params=params)
        assert r.status_code == 422 and r.json()["message"], (params, r.text)
    assert c.http.get("/api/reports/bulletin", params={"month": "2020-4"}, headers=front).status_code == 422
    assert c.http.get("/api/cases/%00%ff", headers=front).status_code == 404


def test_csrf_is_required_for_cookie_writes_and_forms(web: WebStack) -> None:
    b = web.client(FRONT)
    no = case_no()
    r = b.http.post("/api/cases", json={"matter_code": MATTER, "applicant": "甲", "case_no": no})
    assert r.status_code == 403 and r.json()["code"] == "CSRF_INVALID"
    assert b.http.get(f"/api/cases/{no}").status_code == 404  # nothing was submitted
    r = b.http.post("/cases/new", data={"matter": MATTER, "applicant": "甲", "csrf_token": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = b.api(
        "POST", "/api/cases", json={"matter_code": MATTER, "applicant": "甲", "case_no": no, "all_materials": True}
    )
    assert r.status_code == 200, r.text


def test_repeated_failed_sign_ins_lock_the_account(web: WebStack) -> None:
    user = f"lock-{uuid.uuid4().hex[:6]}"
    web.boot.identity.add(user, password="correct-horse-1", roles=[], by={"user_id": "tests"})
    b = web.client()
    codes = [b.sign_in(user, "wrong-password").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    r = b.sign_in(user, "correct-horse-1")
    assert r.status_code == 429 and "锁定" in r.text
    assert web.client().sign_in("nobody-here", "whatever-pass").status_code == 401


def test_user_text_is_escaped_and_invisible_characters_shown(web: WebStack) -> None:
    b = web.client(FRONT)
    no = case_no()
    r = b.api("POST", "/api/cases", json={"matter_code": MATTER, "applicant": "<script>alert(1)</script><b>店</b>",
                                          "case_no": no, "all_materials": True})  # fmt: skip
    assert r.status_code == 200, r.text
    page = b.http.get(f"/cases/{no}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;店&lt;/b&gt;" in page
    assert "<script>alert" not in page and "<b>店" not in page
    name = f"x-{uuid.uuid4().hex[:6]}"
    web.boot.identity.add(name, display_name="<i>管</i>理", password="long-enough-pw", roles=[], by={"user_id": "t"})
    page = web.client(name, "long-enough-pw").http.get("/worklist").text
    assert "&lt;i&gt;管&lt;/i&gt;理" in page


def test_reports_and_downloads(web: WebStack) -> None:
    h = web.token(FRONT)
    c = web.client()
    data = c.http.get("/api/reports/bulletin", params={"month": "2020-04"}, headers=h).json()
    assert data["schema"] == "oneseal.bulletin/2"
    for fmt, media in (
        ("xlsx", "spreadsheetml"),
        ("csv", "text/csv"),
        ("json", "application/json"),
        ("md", "markdown"),
    ):
        r = c.http.get(f"/api/reports/bulletin/{fmt}", params={"month": "2020-04", "region": "汶川县"}, headers=h)
        assert (
            r.status_code == 200
            and media in r.headers["content-type"]
            and "attachment" in r.headers["content-disposition"]
        )
    assert c.http.get("/api/reports/stats", params={"month": "2020-04"}, headers=h).status_code == 200
    assert c.http.get("/api/projections", headers=h).json()[0]["name"] == "cases"
    assert len(c.http.get("/api/matters", params={"region": "汶川县"}, headers=h).json()) > 5
    assert c.http.get("/api/matters/NOPE", headers=h).status_code == 404


def test_import_adopts_an_overdue_case_that_shows_red(web: WebStack) -> None:
    admin, reviewer = web.token("admin"), web.token(REVIEWER)
    c = web.client()
    no = case_no()
    header = "case_no,matter_code,matter_name,matter_kind,level,region,department,applicant,submitted_at,accepted_at,completed_at,result,promised_days,day_type"
    row = f"{no},{MATTER},食品经营许可,licensing,county,汶川县,汶川县市场监督管理局,旧系统申请人,2020-04-01T09:00:00,2020-04-01T10:00:00,,,5,working"
    files = {"file": ("legacy.csv", (header + "\n" + row + "\n").encode(), "text/csv")}
    assert c.http.post("/api/imports/cases", headers=reviewer, files=files).status_code == 403
    r = c.http.post("/api/imports/cases", headers=admin, files=files)
    assert r.status_code == 200 and r.json()["added"] == 1 and r.json()["adopted"] == 1, r.text
    b = web.client(REVIEWER)
    for _ in range(100):  # the adopted workflow records the overdue at once; the projector follows
        page = b.http.get("/worklist").text
        if no in page and "badge red" in page.split(no)[0].rsplit("<tr", 1)[-1]:
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the overdue case is not red in the worklist")


def test_users_are_managed_by_admins_and_recorded(web: WebStack) -> None:
    admin, front = web.token("admin"), web.token(FRONT)
    c = web.client()
    name = f"u-{uuid.uuid4().hex[:6]}"
    assert c.http.post("/api/users", headers=front, json={"username": name}).status_code == 403
    r = c.http.post("/api/users", headers=admin, json={"username": name, "roles": ["auditor"]})
    assert r.status_code == 200 and r.json()["password"], r.text
    assert c.http.post("/api/users", headers=admin, json={"username": name}).status_code == 409
    r = c.http.post(f"/api/users/{name}/roles", headers=admin, json={"role": "front_desk", "staff_id": "513221-qt-b"})
    assert r.status_code == 200 and r.json()["roles"] == ["auditor", "front_desk"] and r.json()["regions"] == ["*"]
    assert c.http.delete(f"/api/users/{name}/roles/auditor", headers=admin).json()["roles"] == ["front_desk"]
    assert c.http.delete(f"/api/users/{name}/roles/auditor", headers=admin).status_code == 409
    assert c.http.post(f"/api/users/{name}/password", headers=admin, json={"password": "short"}).status_code == 422
    who = [e.actor.get("via") for e in web.boot.store.events.get(account_id(name))]  # type: ignore[attr-defined]
    assert who and all(v == "api:admin" for v in who)
    assert c.http.get("/api/users/nobody-at-all", headers=admin).status_code == 404


def test_a_password_change_ends_other_sessions(web: WebStack) -> None:
    name = f"p-{uuid.uuid4().hex[:6]}"
    web.boot.identity.add(name, password="first-password", roles=[], by={"user_id": "t"})
    one, two = web.client(name, "first-password"), web.client(name, "first-password")
    r = one.api("POST", "/api/me/password", json={"old_password": "first-password", "password": "second-password"})
    assert r.status_code == 204, r.text
    assert two.http.get("/api/me").status_code == 401
    assert web.client(name, "second-password").http.get("/api/me").json()["username"] == name
