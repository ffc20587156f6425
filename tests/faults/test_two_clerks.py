"""Two clerks take the same step on the same case at the same moment, 100 times: each time exactly one
wins, the other gets the Chinese refusal, and the store holds the step once."""

from __future__ import annotations

import asyncio

import pytest

from domain.cases.model import CaseView
from domain.cases.steps import Accept
from domain.catalogue import default_catalogue
from domain.errors import IllegalTransition
from domain.staff import Post
from tests.integration.conftest import Stack
from tests.integration.support import FRONT, MATTER, event_names, new_case_no, staff

pytestmark = pytest.mark.integration
ROUNDS = 100
OTHER_FRONT = staff(Post.FRONT_DESK, backup=True)


@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)  # the race is decided in the workflow, not the store
async def test_two_clerks_accepting_the_same_case_at_once_one_wins(stack: Stack) -> None:
    assert OTHER_FRONT.user_id != FRONT.user_id
    materials = list(default_catalogue().get(MATTER).materials)
    service = stack.service

    async def submit() -> str:
        case_no = new_case_no(stack.kind)
        await service.submit(matter_code=MATTER, applicant="某某", materials=materials, actor=FRONT,
                             case_no=case_no, read_your_writes=False)  # fmt: skip
        return case_no

    with stack.env.with_time_skipping_disabled():
        cases: list[str] = []
        for _ in range(ROUNDS // 20):
            cases += await asyncio.gather(*(submit() for _ in range(20)))

        async def race(case_no: str) -> list[CaseView | BaseException]:
            start = asyncio.Event()

            async def clerk(actor: object) -> CaseView:
                await start.wait()
                return (await service.step(case_no, Accept(actor=actor), read_your_writes=False)).case  # type: ignore[arg-type]

            tasks = [asyncio.ensure_future(clerk(a)) for a in (FRONT, OTHER_FRONT)]
            await asyncio.sleep(0)
            start.set()  # both requests leave in the same loop turn
            return list(await asyncio.gather(*tasks, return_exceptions=True))

        outcomes = []
        for i in range(0, ROUNDS, 10):
            outcomes += await asyncio.gather(*(race(no) for no in cases[i : i + 10]))

    for case_no, results in zip(cases, outcomes, strict=True):
        won = [r for r in results if isinstance(r, CaseView)]
        refused = [r for r in results if isinstance(r, IllegalTransition)]
        assert len(won) == 1 and len(refused) == 1, (case_no, results)
        assert won[0].status == "under_review"
        assert "受理" in refused[0].message and refused[0].code == "CASE_ILLEGAL_TRANSITION", refused[0].message
        assert event_names(stack.app.history(case_no)) == ["Submitted", "Accepted"]
