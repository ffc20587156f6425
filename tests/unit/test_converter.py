"""The data converter reads and writes what Temporal's default one does: the same JSON values (written by
orjson, UTF-8 instead of \\u escapes), the same decoded values, the same refusals; it reads every payload
the default converter wrote (recorded histories), and the default converter reads every payload it writes
(a worker of the last release, during a rolling deploy)."""

from __future__ import annotations

import functools
import json
import uuid
from collections import namedtuple
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from enum import IntEnum, StrEnum

import pytest
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from domain.calendar import default_calendar
from domain.cases.case import Case, StepContext
from domain.cases.model import TimeRules
from domain.cases.steps import Accept, Decide, Deliver, Notice, SubmitCase
from domain.catalogue import default_catalogue
from domain.parallel.codec import view_to_json
from domain.parallel.steps import GiveOpinion, RegisterProject
from domain.staff import default_staff
from domain.transfer.view import ItemState, ProgrammeState, SupervisionState
from tests.unit.test_case import delivered, suspended
from tests.unit.test_parallel_project import CODE, S1, T0, opened, plan
from tests.unit.test_parallel_project import FRONT as PROJECT_FRONT
from tests.unit.test_transfer_supervision import task
from tests.unit.transfer_helpers import ADMIN, SCJG_STAFF, in_trial
from workflows.contracts import CaseCommand, CaseInput, CaseResult, StepResult
from workflows.converter import DATA_CONVERTER
from workflows.parallel_contracts import ProjectCommand, ProjectInput, ProjectResult, ProjectStepResult
from workflows.transfer_contracts import (
    AddItemRequest,
    ClaimRequest,
    DecideRequest,
    ItemInput,
    MilestoneRequest,
    ProgrammeInput,
    RemoveItemRequest,
    SignRequest,
    StepAnswer,
    TransferCommand,
    TransferResult,
)

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


def _contracts() -> list[tuple[object, type]]:
    """A real instance of every dataclass in workflows/contracts.py, parallel_contracts.py and
    transfer_contracts.py, built by the domain as it builds them (Chinese text, nested dataclasses, enums,
    tuples, dicts, optional datetimes set and unset)."""
    later = CaseResult(suspended().view(), True, 7)
    done = StepResult(delivered().view(), 9)
    registration = RegisterProject(code=CODE, name="威州镇安置房建设项目", owner="汶川县住房和城乡建设局",
                                   investment="12345678.90", level="county", region="汶川县", plan=plan(),
                                   actor=PROJECT_FRONT)  # fmt: skip
    project = opened().view()
    programme, item = in_trial()
    supervision = task()
    at = datetime(2020, 6, 1, 8, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    return [
        (
            CaseInput(
                case_no="CV-2",
                matter_code=MATTER,
                applicant="四川某某餐饮有限公司",
                provided_materials=["申请书"],
                submitted_by=FRONT,
                rules=TimeRules(warning_share=0.75),
                demo=True,
            ),
            CaseInput,
        ),
        (
            CaseCommand(
                case_no="CV-2",
                command_id="w/1:submit",
                at=at,
                rules=TimeRules(),
                step="submit",
                request=SubmitCase(
                    case_no="CV-2", matter_code=MATTER, applicant="某某", provided_materials=["申请书"], actor=FRONT
                ),
            ),
            CaseCommand,
        ),
        (
            CaseCommand(
                case_no="CV-2",
                command_id="w/2:accept",
                at=at,
                rules=TimeRules(),
                step="accept",
                request=Accept(actor=FRONT),
            ),
            CaseCommand,
        ),
        (later, CaseResult),
        (done, StepResult),
        (ProjectInput(code=CODE, registration=registration), ProjectInput),
        (ProjectInput(code=CODE, adopt=True), ProjectInput),
        (
            ProjectCommand(
                code=CODE,
                command_id="p/3",
                at=T0,
                step="opinion",
                request=GiveOpinion(
                    actor=PROJECT_FRONT,
                    stage=S1,
                    department="汶川县自然资源局",
                    opinion="agree",
                    missing=("用地预审意见",),
                ),
            ),
            ProjectCommand,
        ),
        (ProjectResult(view_to_json(project), True, 12), ProjectResult),
        (ProjectStepResult(view_to_json(project), None), ProjectStepResult),
        (
            ProgrammeInput(
                programme="test-2020", next_batch=1, started=("513201-SCJG-001",), finished={"513201-SCJG-002": "live"}
            ),
            ProgrammeInput,
        ),
        (ItemInput(programme="test-2020", code="513201-SCJG-001"), ItemInput),
        (
            TransferCommand(
                step="sign",
                programme="test-2020",
                code="513201-SCJG-001",
                command_id="t/1",
                at=at,
                actor=SCJG_STAFF,
                args={"entry": "seal", "note": "已交接", "n": [1, 2]},
            ),
            TransferCommand,
        ),
        (
            TransferResult(ProgrammeState.of(programme), ItemState.of(item), SupervisionState.of(supervision), True, 3),
            TransferResult,
        ),
        (TransferResult(), TransferResult),
        (
            SignRequest(actor=SCJG_STAFF, entry="seal", party="马尔康市市场监督管理局", note="印章已移交", at=at),
            SignRequest,
        ),
        (DecideRequest(actor=ADMIN, decision="extend", reason="延长试运行", new_end="2020-12-31"), DecideRequest),
        (MilestoneRequest(actor=ADMIN, milestone="seal_announced", document_no="马审批〔2020〕3号"), MilestoneRequest),
        (
            AddItemRequest(
                actor=ADMIN,
                code="513201-JT-002",
                department="马尔康市交通运输局",
                batch=None,
                approved_by="马尔康市人民政府",
                reason="补充划转",
                personnel=("513201-jt-b",),
            ),
            AddItemRequest,
        ),
        (
            RemoveItemRequest(actor=ADMIN, code="513201-JT-001", approved_by="马尔康市人民政府", reason="暂缓"),
            RemoveItemRequest,
        ),
        (ClaimRequest(actor=SCJG_STAFF, at=at), ClaimRequest),
        (StepAnswer(item=ItemState.of(item), notification_id=4), StepAnswer),
    ]


CONTRACTS = _contracts()


def _same_value(decoded: object, value: object) -> bool:
    if isinstance(value, CaseCommand | ProjectCommand):  # the request is Any on the wire: typed by the registry
        assert isinstance(decoded, type(value))
        others = {k: v for k, v in vars(value).items() if k != "request"}
        return decoded.typed() == value.typed() and {k: v for k, v in vars(decoded).items() if k != "request"} == others
    return decoded == value


@pytest.mark.parametrize(
    ("value", "kind"), CONTRACTS, ids=lambda v: type(v).__name__ if not isinstance(v, type) else ""
)
def test_every_contract_round_trips_and_reads_what_the_sdk_wrote(value: object, kind: type) -> None:
    ours, sdk = DATA_CONVERTER.payload_converter, DataConverter.default.payload_converter
    new, old = ours.to_payloads([value]), sdk.to_payloads([value])
    assert new[0].metadata == old[0].metadata
    assert json.loads(new[0].data) == json.loads(old[0].data)  # the same JSON values, only the bytes differ
    assert len(new[0].data) <= len(old[0].data)  # UTF-8 (3 bytes a character) instead of \uXXXX (6)
    for payloads in (new, old):  # ours reads both: histories recorded before orjson replay
        assert _same_value(ours.from_payloads(payloads, [kind])[0], value)
    assert _same_value(sdk.from_payloads(new, [kind])[0], value)  # a worker of the last release reads ours


@pytest.mark.parametrize(("value", "kind"), VALUES, ids=lambda v: type(v).__name__ if not isinstance(v, type) else "")
def test_decodes_as_the_default_converter_does(value: object, kind: type) -> None:
    ours, sdk = DATA_CONVERTER.payload_converter, DataConverter.default.payload_converter
    payloads = ours.to_payloads([value])
    assert json.loads(payloads[0].data) == json.loads(sdk.to_payloads([value])[0].data)  # the SDK's JSON values
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


class Colour(StrEnum):
    RED = "红"


class Size(IntEnum):
    BIG = 2


Point = namedtuple("Point", "x y")


@dataclass
class Odd:
    """What orjson's own dataclass form would get wrong: a ``_`` field, an ``init=False`` default, a
    ``cached_property`` in the instance's ``__dict__``."""

    x: int
    _hidden: str = "藏"
    later: int = field(default=3, init=False)

    @functools.cached_property
    def derived(self) -> int:
        return self.x * 2


def _written(value: object) -> tuple[bytes, bytes]:
    ours = DATA_CONVERTER.payload_converter.to_payloads([value])[0].data
    sdk = DataConverter.default.payload_converter.to_payloads([value])[0].data
    return ours, sdk


@pytest.mark.parametrize(
    "value",
    [
        Odd(1),
        {"when": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=8, minutes=30)))},
        {"naive": datetime(2026, 1, 2), "utc": datetime(2026, 1, 2, tzinfo=UTC)},
        {"set": {"甲"}, "frozen": frozenset({1}), "tuple": (1, "乙"), "point": Point(1, 2)},
        {"uuid": uuid.UUID(int=7), "colour": Colour.RED, "size": Size.BIG},
        {1: "a", 2: "b"},  # int keys: json writes them as str, orjson refuses them: the SDK writes it
        {"big": 2**70, "small": -(2**63) - 1},  # ints orjson refuses to write: the SDK writes them
        {"lone": "\ud800"},  # a lone surrogate: orjson refuses, json escapes it
        {"floats": [0.1, 1e16, 1e-7, -0.0, 123456789.125]},
        "纯文本",
        [],
    ],
    ids=repr,
)
def test_the_same_json_values_as_the_sdk_for_everything_it_writes(value: object) -> None:
    ours, sdk = _written(value)
    assert json.loads(ours) == json.loads(sdk)
    decoded = DATA_CONVERTER.payload_converter.from_payloads(
        [Payload(metadata={"encoding": b"json/plain"}, data=ours)]
    )[0]
    assert decoded == json.loads(sdk)


def test_what_the_sdk_refuses_to_write_is_refused() -> None:
    for value in (date(2026, 1, 1), object()):
        with pytest.raises(TypeError):
            DataConverter.default.payload_converter.to_payloads([value])
        with pytest.raises(TypeError):
            DATA_CONVERTER.payload_converter.to_payloads([value])


@pytest.mark.parametrize(
    "data",
    [
        b'{"n":123456789012345678901234567890}',  # orjson would read a float
        b'{"n":-9223372036854775809}',
        b'{"x":NaN,"y":Infinity}',  # not JSON, but json writes and reads it
        b'{"s":"\\ud800"}',
        b'{"id":"513221198001010011","t":"\\u5b9e"}',  # an 18-digit number in a string: orjson reads it
    ],
)
def test_it_reads_whatever_json_reads_as_json_reads_it(data: bytes) -> None:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=data)
    ours = DATA_CONVERTER.payload_converter.from_payloads([payload])[0]
    sdk = DataConverter.default.payload_converter.from_payloads([payload])[0]
    assert json.dumps(ours) == json.dumps(sdk)  # NaN != NaN: compared as written
    for v in ours.values():
        assert type(v) is type(json.loads(data)[next(k for k in ours if ours[k] is v)])


def test_broken_json_is_refused_as_the_sdk_refuses_it() -> None:
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"a":')
    refusals = []
    for conv in (DATA_CONVERTER.payload_converter, DataConverter.default.payload_converter):
        with pytest.raises(RuntimeError) as e:
            conv.from_payloads([payload])
        refusals.append((str(e.value), repr(e.value.__cause__)))
    assert refusals[0] == refusals[1]
    assert "Failed parsing" in refusals[0][1]


def test_chinese_text_is_written_as_utf8() -> None:
    ours, sdk = _written({"applicant": "四川某某餐饮有限公司"})
    assert "四川某某餐饮有限公司".encode() in ours and b"\\u56db" in sdk
    assert len(ours) < len(sdk)
