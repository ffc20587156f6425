"""The pages in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

A clerk signs in, submits a case, issues the one-time notice, records the supplement and accepts; a
reviewer finds it in the worklist and decides; the output window delivers; a user of another county sees
none of it. Every page is photographed at 1280 and 800 px (var/test-artifacts/screenshots/), and checked
for horizontal overflow and for scripts the Content-Security-Policy refused.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from domain.cases.legacy import IMPORT_COLUMNS
from tests.web.conftest import ARTIFACTS, FRONT, MATTER, OTHER_FRONT, OUTPUT, REVIEWER, WebStack

pytestmark = [pytest.mark.integration, pytest.mark.parametrize("web", ["sqlite"], indirect=True)]
CHROMIUM = "/usr/bin/chromium"
SHOTS = ARTIFACTS / "screenshots"
WIDTHS = (1280, 800)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: run `make browser` (make test does it)")
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    print(f"\nscreenshots: {SHOTS}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--lang=zh-CN"])
        yield b
        b.close()


class Session:
    """One person's browser context, with a record of what the console complained about."""

    def __init__(self, browser: Browser, web: WebStack, user: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        self.page: Page = self.context.new_page()
        self.web = web
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.goto(f"{web.url}/login")
        self.page.fill("#username", user)
        self.page.fill("#password", "oneseal-demo")
        self.page.click("#login")
        expect(self.page.locator("h1")).to_have_text("我的待办")

    def go(self, path: str) -> Page:
        self.page.goto(f"{self.web.url}{path}")
        return self.page

    def shoot(self, name: str) -> None:
        """The page at each width: no horizontal overflow, and a full-page screenshot to look at."""
        for width in WIDTHS:
            self.page.set_viewport_size({"width": width, "height": 900})
            overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} overflows by {overflow}px at {width}px"
            self.page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
        self.page.set_viewport_size({"width": 1280, "height": 900})

    def close(self) -> None:
        csp = [p for p in self.problems if "Content Security Policy" in p or "Refused" in p]
        assert not csp, csp
        self.context.close()


def test_a_case_through_every_step_in_the_browser(browser: Browser, web: WebStack) -> None:
    anon = browser.new_page(viewport={"width": 1280, "height": 900})
    anon.goto(f"{web.url}/worklist")
    expect(anon.locator("h1")).to_have_text("登录")
    for width in WIDTHS:
        anon.set_viewport_size({"width": width, "height": 900})
        anon.screenshot(path=str(SHOTS / f"login-{width}.png"), full_page=True)
    anon.fill("#username", FRONT)
    anon.fill("#password", "wrong-password")
    anon.click("#login")
    expect(anon.locator("#login-error")).to_contain_text("用户名或密码错误")
    anon.close()

    # The clerk takes the application in, with one material of five.
    clerk = Session(browser, web, FRONT)
    page = clerk.go("/cases/new")
    page.select_option("#matter", MATTER)
    expect(page.locator("#materials input[type=checkbox]")).to_have_count(5)
    boxes = page.locator("#materials input[type=checkbox]")
    for i in range(1, 5):
        boxes.nth(i).uncheck()
    page.fill("#applicant", "九寨沟<b>阿坝</b>餐饮店")
    clerk.shoot("submit")
    page.click("#do-submit")
    expect(page.locator("#status")).to_have_text("待受理")
    case_no = page.locator("#case-no").inner_text()
    expect(page.locator("#applicant")).to_have_text("九寨沟<b>阿坝</b>餐饮店")  # shown, not interpreted
    expect(page.locator("#do-accept")).to_have_count(0)  # materials missing: no accept button
    clerk.shoot("case-submitted")
    page.click("#do-notice")
    expect(page.locator("#status")).to_have_text("待补正")
    page.click("#do-supplement")
    expect(page.locator("#status")).to_have_text("待受理")
    page.click("#do-accept")
    expect(page.locator("#status")).to_have_text("审查中")
    # From here the front desk may only withdraw for the applicant (the registry's rule), not decide.
    expect(page.locator("form.step")).to_have_count(1)
    expect(page.locator("#step-withdraw")).to_be_visible()
    clerk.go("/worklist?tab=done")
    expect(clerk.page.locator("#worklist")).to_contain_text(case_no)
    clerk.go(f"/cases?case_no={case_no}")
    expect(clerk.page.locator("#results")).to_contain_text(case_no)
    clerk.shoot("cases")
    clerk.close()

    # An open legacy case, long past its deadline, taken over: it comes first in the worklist, in red.
    legacy = f"L-{case_no[-6:]}"
    row = (f"{legacy},{MATTER},食品经营许可,licensing,county,汶川县,汶川县市场监督管理局,旧系统申请人,"
           "2020-04-01T09:00:00,2020-04-01T10:00:00,,,5,working")  # fmt: skip
    files = {"file": ("legacy.csv", f"{','.join(IMPORT_COLUMNS)}\n{row}\n".encode(), "text/csv")}
    r = httpx.post(f"{web.url}/api/imports/cases", headers=web.token("admin"), files=files, timeout=60)
    assert r.status_code == 200 and r.json()["adopted"] == 1, r.text

    # The reviewer finds it in the worklist and decides.
    reviewer = Session(browser, web, REVIEWER)
    page = reviewer.page
    expect(page.locator("#worklist-table")).to_contain_text(case_no)
    for _ in range(50):  # the take-over records the overdue at once; the projector follows
        if page.locator("#worklist-table tr.overdue", has_text=legacy).count():
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator("#worklist-table tbody tr", has_text=legacy).locator(".badge.red")).to_have_text("超期")
    expect(page.locator("#worklist-table tbody tr").first).to_have_class("overdue")  # overdue first
    expect(page.locator("#worklist-table tbody tr", has_text=case_no)).not_to_have_class("overdue")
    reviewer.shoot("worklist")
    page.click(f"text={case_no}")
    expect(page.locator("#status")).to_have_text("审查中")
    expect(page.locator("#step-decide")).to_be_visible()
    reviewer.shoot("case-review")
    page.locator("#step-decide input[value=grant]").check()
    page.click("#do-decide")
    expect(page.locator("#status")).to_have_text("已决定待出件")
    expect(page.locator("#decision")).to_contain_text("准予")
    reviewer.close()

    # The output window delivers; the case is complete.
    output = Session(browser, web, OUTPUT)
    expect(output.page.locator("#worklist-table")).to_contain_text(case_no)
    page = output.go(f"/cases/{case_no}")
    page.click("#do-deliver")
    expect(page.locator("#status")).to_have_text("已办结")
    expect(page.locator("#timeline")).to_contain_text(f"网页 · {OUTPUT}")
    output.shoot("case-completed")
    page = output.go("/reports/bulletin?region=汶川县")
    expect(page.locator("#bulletin-text")).to_contain_text("汶川县政务服务平台受理各类事项")
    expect(page.locator("#chart canvas")).to_have_count(1)
    output.shoot("bulletin")
    page = output.go("/reports/bulletin")
    expect(page.locator("#chart canvas")).to_have_count(1)
    output.shoot("bulletin-prefecture")
    output.close()

    # A clerk of another county sees none of it.
    other = Session(browser, web, OTHER_FRONT)
    expect(other.page.locator("#worklist")).not_to_contain_text(case_no)
    page = other.go(f"/cases?case_no={case_no}")
    expect(page.locator("#results")).to_contain_text("没有符合条件的办件")
    response = page.goto(f"{web.url}/cases/{case_no}")
    assert response is not None and response.status == 403
    expect(page.locator(".error")).to_contain_text("不在您的工作范围")
    other.shoot("forbidden")
    other.close()
    assert re.fullmatch(r"513221-\d{8}-[0-9A-F]{6}", case_no), case_no
