"""Value objects of parallel approval: the national project code, investment amounts, stages, opinions.

Investment is exact: ``Decimal`` 元 on the way in and out, integer fen (分) inside events (a JSON integer
that any SQL engine sums exactly; SQLite has no exact decimal type). 亿元 appear only when rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from domain.catalogue import Level
from domain.parallel.errors import InvestmentInvalid, ProjectCodeInvalid, ProjectFieldInvalid

PREFECTURE_REGION = "阿坝州"
# Region -> administrative division code (GB/T 2260) of Aba prefecture and its 13 counties/cities.
DIVISIONS: dict[str, str] = {
    PREFECTURE_REGION: "513200",
    "马尔康市": "513201",
    "汶川县": "513221",
    "理县": "513222",
    "茂县": "513223",
    "松潘县": "513224",
    "九寨沟县": "513225",
    "金川县": "513226",
    "小金县": "513227",
    "黑水县": "513228",
    "壤塘县": "513230",
    "阿坝县": "513231",
    "若尔盖县": "513232",
    "红原县": "513233",
}
COUNTIES: tuple[str, ...] = tuple(r for r in DIVISIONS if r != PREFECTURE_REGION)


def check_level_and_region(level: str, region: str) -> Level:
    """州本级 projects belong to the prefecture (阿坝州), county projects to one of the 13 counties/cities."""
    try:
        lv = Level(level)
    except ValueError:
        raise ProjectFieldInvalid(
            f"项目层级「{level}」无效，应为 prefecture（州本级）或 county（县（市））", field="level"
        ) from None
    if region not in DIVISIONS:
        raise ProjectFieldInvalid(f"所属地区「{region}」不是阿坝州或其所辖13个县（市）之一", field="region")
    if (lv is Level.PREFECTURE) != (region == PREFECTURE_REGION):
        expected = "阿坝州" if lv is Level.PREFECTURE else "所辖县（市）"
        raise ProjectFieldInvalid(
            f"项目层级为「{project_level_label(lv)}」，所属地区应为{expected}，而不是「{region}」",
            field="region",
            level=lv.value,
        )
    return lv


def project_level_label(level: Level) -> str:
    """The bulletin's word for the level of a parallel-approval project."""
    return "州本级" if level is Level.PREFECTURE else "县（市）"


# ---- the national project code -------------------------------------------------------------------

PROJECT_TYPES = {"01": "审批", "02": "核准", "03": "备案"}
_ASCII_DIGITS = re.compile(r"[0-9]+")
_PARTS = (("year", "年份", 0, 4), ("division", "行政区划代码", 5, 11), ("industry", "行业代码", 12, 14),
          ("type", "项目类型代码", 15, 17), ("serial", "流水号", 18, 24))  # fmt: skip


@dataclass(frozen=True)
class ProjectCode:
    """全国投资项目在线审批监管平台 project code, ``YYYY-AAAAAA-BB-CC-NNNNNN`` (24 characters).

    Year of coding, administrative division (GB/T 2260), industry (国民经济行业分类 division, 01–97),
    project type (01 审批, 02 核准, 03 备案) and a serial number. The project's lifetime id.
    """

    year: int
    division: str
    industry: str
    type: str
    serial: str

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.division}-{self.industry}-{self.type}-{self.serial}"

    @property
    def type_label(self) -> str:
        return PROJECT_TYPES[self.type]

    @classmethod
    def parse(cls, text: str) -> ProjectCode:
        """Validate and split; the message names the part that is wrong, as staff must fix it."""
        raw = text.strip() if isinstance(text, str) else ""
        if not raw:
            raise ProjectCodeInvalid("项目代码不能为空", field="code")
        if len(raw) != 24:
            raise ProjectCodeInvalid(
                f"项目代码「{raw}」应为24位（格式 YYYY-AAAAAA-BB-CC-NNNNNN），实际为{len(raw)}位", field="code"
            )
        if any(raw[i] != "-" for i in (4, 11, 14, 17)):
            raise ProjectCodeInvalid(
                f"项目代码「{raw}」第5、12、15、18位应为连字符「-」（格式 YYYY-AAAAAA-BB-CC-NNNNNN）", field="code"
            )
        parts: dict[str, str] = {}
        for key, label, start, end in _PARTS:
            value = raw[start:end]
            if not _ASCII_DIGITS.fullmatch(value):
                raise ProjectCodeInvalid(
                    f"项目代码「{raw}」中的{label}「{value}」应为{end - start}位半角数字", field="code", part=key
                )
            parts[key] = value
        year = int(parts["year"])
        if not 2000 <= year <= 2099:
            raise ProjectCodeInvalid(
                f"项目代码「{raw}」中的年份「{year}」不在2000—2099年之间", field="code", part="year"
            )
        if parts["division"] not in DIVISIONS.values():
            raise ProjectCodeInvalid(
                f"项目代码「{raw}」中的行政区划代码「{parts['division']}」不是阿坝州或所辖县（市）的代码",
                field="code",
                part="division",
            )
        if not 1 <= int(parts["industry"]) <= 97:
            raise ProjectCodeInvalid(
                f"项目代码「{raw}」中的行业代码「{parts['industry']}」应在01—97之间", field="code", part="industry"
            )
        if parts["type"] not in PROJECT_TYPES:
            raise ProjectCodeInvalid(
                f"项目代码「{raw}」中的项目类型代码「{parts['type']}」应为01（审批）、02（核准）或03（备案）",
                field="code",
                part="type",
            )
        if int(parts["serial"]) == 0:
            raise ProjectCodeInvalid(f"项目代码「{raw}」中的流水号不能为000000", field="code", part="serial")
        return cls(year, parts["division"], parts["industry"], parts["type"], parts["serial"])

    def check_region(self, region: str) -> None:
        """The code's division is the division of the region that handles the project (州本级: 513200)."""
        expected = DIVISIONS.get(region)
        if self.division != expected:
            raise ProjectCodeInvalid(
                f"项目代码「{self}」的行政区划代码「{self.division}」与所属地区「{region}」（{expected}）不符",
                field="code",
                part="division",
            )


# ---- investment ------------------------------------------------------------------------------

FEN = Decimal("0.01")
YI = Decimal(100_000_000)
_MAX_FEN = 2**63 - 1  # a signed 64-bit column holds every amount we accept
_PLAIN_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")


def parse_investment(value: str | int | Decimal) -> Decimal:
    """An investment in 元, exact to the fen: ``"12345678.9"`` → ``Decimal("12345678.90")``.

    Only plain decimal notation is accepted: no sign, no thousands separators, no exponent, no NaN or
    infinity, at most two decimals, never a float (floats are not exact money).
    """
    if isinstance(value, (bool, float)):
        raise InvestmentInvalid(
            f"总投资「{value}」必须以字符串或精确小数给出（元，最多两位小数），不接受浮点数", field="investment"
        )
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise InvestmentInvalid(f"总投资「{value}」不是有效的金额", field="investment")
        text = format(value, "f")
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvestmentInvalid(f"总投资「{value!r}」不是有效的金额", field="investment")
    if not text:
        raise InvestmentInvalid("总投资不能为空（单位：元）", field="investment")
    if re.fullmatch(r"-[0-9]+(\.[0-9]+)?", text) and Decimal(text) < 0:
        raise InvestmentInvalid(f"总投资「{text}」不能为负数", field="investment")
    if not _PLAIN_AMOUNT.fullmatch(text.lstrip("+-")):
        if re.fullmatch(r"[0-9]+\.[0-9]{3,}", text):
            reason = "最多精确到分（两位小数）"
        elif "," in text or "，" in text:
            reason = "不能含逗号或千位分隔符"
        else:
            reason = "应为以元为单位的数字，最多两位小数，例如 12345678.90"
        raise InvestmentInvalid(f"总投资「{text}」无效：{reason}", field="investment")
    if text[0] in "+-":
        raise InvestmentInvalid(f"总投资「{text}」无效：不应带正负号", field="investment")
    try:
        amount = Decimal(text).quantize(FEN)
    except InvalidOperation:  # pragma: no cover - the pattern above already excludes it
        raise InvestmentInvalid(f"总投资「{text}」不是有效的金额", field="investment") from None
    if to_fen(amount) > _MAX_FEN:
        raise InvestmentInvalid(f"总投资「{text}」超出可记录的范围，请检查单位（元）", field="investment")
    return amount


def to_fen(amount: Decimal) -> int:
    """元 (at most two decimals) → integer fen, exactly."""
    fen = amount * 100
    if fen != fen.to_integral_value():
        raise InvestmentInvalid(f"金额「{amount}」最多精确到分（两位小数）", field="investment")
    return int(fen)


def from_fen(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(FEN)


def to_yi(amount: Decimal) -> Decimal:
    """元 → 亿元 with two decimals, half-up on the exact amount (5868950000 → 58.69)."""
    return (amount / YI).quantize(FEN, rounding=ROUND_HALF_UP)


def format_yi(amount: Decimal) -> str:
    """The bulletin's figure: ``"58.69"`` (the caller adds 亿元)."""
    return f"{to_yi(amount):.2f}"


# ---- stages, opinions, policies ----------------------------------------------------------------


class Stage(StrEnum):
    """The four approval stages of 国办发〔2019〕11号, in their only order."""

    LAND_USE_PLANNING = "land_use_planning"
    CONSTRUCTION_PLANNING = "construction_planning"
    CONSTRUCTION_PERMIT = "construction_permit"
    COMPLETION_ACCEPTANCE = "completion_acceptance"

    @property
    def label(self) -> str:
        return {
            Stage.LAND_USE_PLANNING: "立项用地规划许可",
            Stage.CONSTRUCTION_PLANNING: "工程建设许可",
            Stage.CONSTRUCTION_PERMIT: "施工许可",
            Stage.COMPLETION_ACCEPTANCE: "竣工验收",
        }[self]

    @property
    def position(self) -> int:
        return STAGES.index(self)

    @classmethod
    def parse(cls, value: str) -> Stage:
        try:
            return cls(value)
        except ValueError:
            allowed = "、".join(f"{s.value}（{s.label}）" for s in cls)
            raise ProjectFieldInvalid(f"审批阶段「{value}」无效，应为：{allowed}", field="stage") from None


STAGES: tuple[Stage, ...] = tuple(Stage)
# The reform target (120 working days) runs from the first stage's acceptance to the construction permit.
REFORM_STAGES: tuple[Stage, ...] = STAGES[:3]


class Opinion(StrEnum):
    AGREE = "agree"
    AGREE_WITH_CONDITIONS = "agree_with_conditions"
    DISAGREE = "disagree"
    NEEDS_CORRECTION = "needs_correction"
    DEEMED_CONSENT = "deemed_consent"  # recorded by the timer, never given by staff

    @property
    def label(self) -> str:
        return {
            Opinion.AGREE: "同意",
            Opinion.AGREE_WITH_CONDITIONS: "有条件同意",
            Opinion.DISAGREE: "不同意",
            Opinion.NEEDS_CORRECTION: "需补正材料",
            Opinion.DEEMED_CONSENT: "逾期视为同意",
        }[self]

    @property
    def is_final(self) -> bool:
        return self is not Opinion.NEEDS_CORRECTION

    @property
    def consents(self) -> bool:
        return self in (Opinion.AGREE, Opinion.AGREE_WITH_CONDITIONS, Opinion.DEEMED_CONSENT)


STAFF_OPINIONS = (Opinion.AGREE, Opinion.AGREE_WITH_CONDITIONS, Opinion.DISAGREE, Opinion.NEEDS_CORRECTION)


class SilencePolicy(StrEnum):
    """What happens when a department is silent past its deadline (a per-stage rule)."""

    ESCALATE = "escalate"
    DEEMED_CONSENT = "deemed_consent"

    @property
    def label(self) -> str:
        return "督办并继续等待" if self is SilencePolicy.ESCALATE else "逾期视为同意"


class StageOutcome(StrEnum):
    APPROVED = "approved"
    DENIED = "denied"

    @property
    def label(self) -> str:
        return "通过" if self is StageOutcome.APPROVED else "不予通过"
