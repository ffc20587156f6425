"""The data converter decodes exactly as Temporal's default one does, only without resolving type hints
at every decode: the same values, the same payloads, the same refusals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from temporalio.converter import DataConverter

from domain.calendar import default_calendar
from domain.cases.case import Case, StepContext
from domain.cases.model import TimeRules
from domain.cases.steps import Decide, Deliver, Notice, SubmitCase
from domain.catalogue import default_catalogue
from domain.staff import default_staff
from workflows.contracts import CaseCommand, CaseInput, CaseResult, StepResult
from workflows.converter import DATA_CONVERTER

MATTER = "513221-SCJG-001"
STAFF = default_staff()
FRONT = STAFF.get("513221-qt-a")


def _case_result() -> CaseResult:
    matter = default_catalogue().get(MATTER)
    req = SubmitCase(case_no="CV-1", matter_code=MATTER, applicant="某某", provided_materials=list(matter.materials[:2]),
                     actor=FRONT)  # fmt: skip
    at = datetime(2026, 4, 27, 9, 30, tzinfo=UTC)
    case = Case.submit(req, matter=matter, authority=matter.authority,
                       ctx=StepContext(at=at, command_id="c/1", calendar=default_calendar(), rules=TimeRules()))  # fmt: skip
    return CaseResult(case.view(), True, 42, supervision_task=False)


VALUES: list[tuple[object, type]] = [
    (_case_result(), CaseResult),
    (StepResult(_case_result().case, None), StepResult),
    (
        CaseInput(case_no="CV-1", matter_code=MATTER, applicant="某某", provided_materials=["a"], submitted_by=FRONT),
        CaseInput,
    ),
    (
        CaseCommand(
            case_no="CV-1",
            command_id="w/4:deliver",
            at=datetime(2026, 4, 27, tzinfo=UTC),
            rules=TimeRules(),
            step="deliver",
            request=Deliver(actor=STAFF.get("513221-cj-a")),
            then="complete",
        ),
        CaseCommand,
    ),
    (Decide(actor=STAFF.get("513221-scjg-a"), outcome="grant"), Decide),
    (Notice(actor=FRONT, materials=["营业执照复印件"]), Notice),
]


@pytest.mark.parametrize(("value", "kind"), VALUES, ids=lambda v: type(v).__name__ if not isinstance(v, type) else "")
def test_decodes_as_the_default_converter_does(value: object, kind: type) -> None:
    ours, sdk = DATA_CONVERTER.payload_converter, DataConverter.default.payload_converter
    payloads = ours.to_payloads([value])
    assert payloads == sdk.to_payloads([value])  # the wire form is the SDK's own: histories replay the same
    decoded = ours.from_payloads(payloads, [kind])
    assert decoded == sdk.from_payloads(payloads, [kind])
    if isinstance(value, CaseCommand):  # its request is Any on the wire: typed by the step registry
        assert decoded[0].typed() == value.typed() and decoded[0].follow_on() == value.follow_on()
    else:
        assert decoded == [value]
    assert ours.from_payloads(payloads, [kind]) == decoded  # again, with the hints resolved by the first decode


@dataclass(frozen=True)
class Sample:
    name: str
    tags: list[str] = field(default_factory=list)
    count: int = field(default=0, init=False)


def test_unknown_keys_ignored_missing_required_refused_and_non_init_fields_restored() -> None:
    conv = DATA_CONVERTER.payload_converter
    sdk = DataConverter.default.payload_converter
    with_extra = sdk.to_payloads([{"name": "x", "tags": ["a"], "count": 3, "later": True}])
    assert conv.from_payloads(with_extra, [Sample]) == sdk.from_payloads(with_extra, [Sample])
    assert conv.from_payloads(with_extra, [Sample])[0].count == 3
    missing = sdk.to_payloads([{"tags": []}])
    for c in (conv, sdk):
        with pytest.raises(Exception):  # noqa: B017 (the SDK's own error type, whatever it is)
            c.from_payloads(missing, [Sample])
    wrong = sdk.to_payloads([{"name": "x", "tags": 5}])
    with pytest.raises(Exception, match="tags"):
        conv.from_payloads(wrong, [Sample])


@pytest.mark.parametrize("raw", [{"name": 5}, {"name": None}, {"name": True}, {"name": "x", "tags": None}])
def test_a_value_of_the_wrong_type_is_judged_as_the_sdk_judges_it(raw: dict[str, object]) -> None:
    payloads = DataConverter.default.payload_converter.to_payloads([raw])
    outcomes = []
    for conv in (DATA_CONVERTER.payload_converter, DataConverter.default.payload_converter):
        try:
            outcomes.append(("ok", conv.from_payloads(payloads, [Sample])))
        except Exception as e:
            outcomes.append(("refused", type(e)))
    assert outcomes[0] == outcomes[1]
