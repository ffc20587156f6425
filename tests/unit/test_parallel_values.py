"""Project codes, investment amounts and the stage plan: refused with a Chinese message naming what is wrong."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest

from domain.calendar import SHANGHAI
from domain.catalogue import default_catalogue
from domain.errors import ERRORS_BY_CODE, error_from_code
from domain.parallel import (
    InvestmentInvalid,
    Participant,
    ProjectCode,
    ProjectCodeInvalid,
    ProjectPlanInvalid,
    ReformTarget,
    SilencePolicy,
    Stage,
    StagePlan,
    check_plan,
    format_yi,
    from_fen,
    parse_investment,
    standard_plan,
    to_fen,
)
from domain.staff import default_staff


def test_a_valid_code_splits_into_its_parts() -> None:
    code = ProjectCode.parse(" 2020-513221-47-01-000123 ")
    assert (code.year, code.division, code.industry, code.type, code.serial) == (2020, "513221", "47", "01", "000123")
    assert str(code) == "2020-513221-47-01-000123" and code.type_label == "审批"
    code.check_region("汶川县")
    with pytest.raises(ProjectCodeInvalid, match="与所属地区「理县」"):
        code.check_region("理县")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "不能为空"),
        ("2020-513221-47-01-00012", "应为24位"),
        ("2020_513221-47-01-000123", "连字符"),
        ("20X0-513221-47-01-000123", "年份「20X0」"),
        ("1999-513221-47-01-000123", "2000—2099"),
        ("2020-５13221-47-01-000123", "行政区划代码「５13221」应为6位半角数字"),
        ("2020-510100-47-01-000123", "不是阿坝州或所辖县（市）的代码"),
        ("2020-513221-00-01-000123", "行业代码「00」"),
        ("2020-513221-47-04-000123", "项目类型代码「04」应为01（审批）、02（核准）或03（备案）"),
        ("2020-513221-47-01-000000", "流水号不能为000000"),
    ],
)
def test_malformed_codes_are_refused_naming_the_part(text: str, fragment: str) -> None:
    with pytest.raises(ProjectCodeInvalid) as e:
        ProjectCode.parse(text)
    assert fragment in e.value.message and e.value.code == "PROJECT_CODE_INVALID"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12345678.9", "12345678.90"), ("0", "0.00"), (5_000_000, "5000000.00"), (Decimal("1E+9"), "1000000000.00")],
)
def test_investment_is_exact_to_the_fen(value: str | int | Decimal, expected: str) -> None:
    amount = parse_investment(value)
    assert amount == Decimal(expected) and str(amount) == expected
    assert from_fen(to_fen(amount)) == amount


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("-1", "不能为负数"),
        ("-0.5", "不能为负数"),
        ("12,3", "逗号"),
        ("1,000,000", "逗号"),
        ("1e9", "应为以元为单位的数字"),
        ("NaN", "应为以元为单位的数字"),
        ("Infinity", "应为以元为单位的数字"),
        ("1.234", "两位小数"),
        ("", "不能为空"),
        ("+5", "正负号"),
        (1.5, "不接受浮点数"),
        (True, "不接受浮点数"),
        (Decimal("NaN"), "不是有效的金额"),
        (Decimal("-3"), "不能为负数"),
    ],
)
def test_bad_investment_is_refused(value: object, fragment: str) -> None:
    with pytest.raises(InvestmentInvalid) as e:
        parse_investment(value)  # type: ignore[arg-type]
    assert fragment in e.value.message and e.value.code == "PROJECT_INVESTMENT_INVALID"


def test_yi_rounds_half_up_on_the_exact_amount() -> None:
    assert format_yi(Decimal("5868500000.00")) == "58.69"  # exactly half: up
    assert format_yi(Decimal("5868499999.99")) == "58.68"
    assert format_yi(Decimal("182000000")) == "1.82"
    assert format_yi(Decimal("0")) == "0.00"


def test_parallel_errors_register_their_codes() -> None:
    """A refusal that crossed Temporal (code and message only) comes back as the same type."""
    assert ERRORS_BY_CODE["PROJECT_CODE_INVALID"] is ProjectCodeInvalid
    assert isinstance(error_from_code("PROJECT_INVESTMENT_INVALID", "x"), InvestmentInvalid)


def test_reform_target_warning_is_a_share_of_the_target() -> None:
    assert ReformTarget().warning_days == 96
    assert ReformTarget(days=10, warning_share=Decimal("0.75")).warning_days == 7
    with pytest.raises(ProjectPlanInvalid):
        ReformTarget(days=0)
    with pytest.raises(ProjectPlanInvalid):
        ReformTarget(warning_share=Decimal("1"))


AT = datetime(2020, 4, 1, 9, tzinfo=SHANGHAI)


def test_standard_plan_routes_every_matter_to_a_department_with_reviewers() -> None:
    plan = standard_plan("阿坝州", default_catalogue(), AT)
    assert [s.stage for s in plan] == list(Stage)
    first = plan[0]
    assert first.lead_department == "阿坝州自然资源局" and len(first.participants) == 5
    assert first.participant("阿坝州自然资源局") == Participant(
        "阿坝州自然资源局", ("513200-ZRZY-002", "513200-ZRZY-001"), 18
    )
    assert plan[2].lead_department == "阿坝州住房和城乡建设局"
    assert plan[3].silence_policy is SilencePolicy.DEEMED_CONSENT and plan[3].deemed_consent_rule
    staffed = {(a.department, a.region) for a in default_staff().all() if a.post == "reviewer"}
    for region in ("阿坝州", "红原县"):
        for s in standard_plan(region, default_catalogue(), AT):
            assert all((p.department, region) in staffed for p in s.participants)
            assert all(p.department.startswith(region) for p in s.participants)
    supervisors = [a for a in default_staff().all() if a.post == "supervisor" and a.region == "红原县"]
    assert [a.department for a in supervisors] == ["红原县政务服务中心"] * 2


def test_a_plan_must_be_complete_and_in_order() -> None:
    plan = standard_plan("汶川县", default_catalogue(), AT)
    with pytest.raises(ProjectPlanInvalid, match="审批阶段应依次为"):
        check_plan([plan[1], plan[0], *plan[2:]])
    with pytest.raises(ProjectPlanInvalid, match="须写明所依据的规定"):
        check_plan([*plan[:3], replace(plan[3], deemed_consent_rule="")])
    too_long = Participant("汶川县水务局", ("513221-SW-002",), 30)
    with pytest.raises(ProjectPlanInvalid, match="不超过阶段时限"):
        check_plan([replace(plan[0], participants=(too_long,)), *plan[1:]])
    twice = (plan[0].participants[0], plan[0].participants[0])
    with pytest.raises(ProjectPlanInvalid, match="重复"):
        check_plan([replace(plan[0], participants=twice), *plan[1:]])
    assert StagePlan.from_dict(plan[3].to_dict()) == plan[3]
