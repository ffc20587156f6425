"""The read-only transfer dashboard (/transfer) over real HTTP: a transfer admin of the programme's region
sees the departments' progress and downloads the trial-run report; a front-desk clerk, or an admin of
another region, is refused. Runs on SQLite only (storage plays no part: the read models are tested on both)."""

from __future__ import annotations

import uuid

import pytest

from domain.identity import Role, Scope
from tests.integration.transfer_reports_support import record_programme
from tests.web.conftest import FRONT, WebStack

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("web", ["sqlite"], indirect=True)]


def admin(web: WebStack, region: str) -> dict[str, str]:
    name = f"tadmin{uuid.uuid4().hex[:6]}"
    web.boot.identity.add(name, roles=[Role.TRANSFER_ADMIN], scope=Scope((region,)), password=f"{name}-Passw0rd!",
                          by={"user_id": "tests"})  # fmt: skip
    return web.token(name)


def test_the_transfer_dashboard_for_those_who_may_see_it(web: WebStack) -> None:
    record_programme(web.boot.store)
    http = web.client().http
    mine = admin(web, "马尔康市")
    page = http.get("/transfer", headers=mine)
    assert page.status_code == 200, page.text[:500]
    assert "测试划转方案" in page.text and "市场监督管理局" in page.text and 'href="/transfer"' in page.text
    assert '<progress max="2" value="1">' in page.text  # 市场监督管理局: 1 of 2 items cut over
    assert "正式运行 1 · 延长试运行 0 · 回退原部门 0 · 移出清单 1" in page.text
    report = http.get("/transfer/report.md", params={"programme": "test-2020"}, headers=mine)
    assert report.status_code == 200 and "试运行情况报告" in report.text
    xlsx = http.get("/transfer/report.xlsx", params={"programme": "test-2020"}, headers=mine)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

    assert http.get("/transfer", headers=web.token(FRONT)).status_code == 403  # a role that may not see it
    other = admin(web, "汶川县")
    assert http.get("/transfer", params={"programme": "test-2020"}, headers=other).status_code == 403
    assert http.get("/transfer/report.json", params={"programme": "test-2020"}, headers=other).status_code == 403
    unknown = http.get("/transfer/report.md", params={"programme": "nowhere"}, headers=mine)
    assert unknown.status_code == 404 and "TRANSFER_PROGRAMME_UNKNOWN" in unknown.text
