"""The parallel-approval projects of Aba prefecture in April 2020, generated deterministically.

The bulletin of April 2020 reads: 522 parallel-approval projects handled, 58.69 亿元 of investment, of
which 州本级 11 projects and 1.82 亿元. The generator reproduces exactly that under the definition of
"handled in the month" (``domain.parallel.statistics``): the exact amounts are

    州本级      11 projects    181,963,400.00 元  → 1.82 亿元
    县（市）    511 projects  5,687,251,300.00 元  → 56.87 亿元
    全州        522 projects  5,869,214,700.00 元  → 58.69 亿元

It also generates projects that must NOT count in April (a stage still under review at month end, or
the last decision in March), two that have two stages decided in April (counted once), and one decided
at 07:30 Beijing time on 1 April, which is still 31 March in UTC (counted in April: months are cut in
Beijing time). Only ``Random.random()`` is used (the one generator Python keeps stable across versions)
and no libm function, so the amounts are the same on every machine.

``drive`` takes one generated project through the real ``Project`` aggregate (pure: the caller saves it).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property

from domain.calendar import SHANGHAI, ServiceCalendar, default_calendar
from domain.catalogue import Catalogue, Level, default_catalogue
from domain.parallel.plan import StagePlan, standard_plan
from domain.parallel.project import Project
from domain.parallel.statistics import month_of
from domain.parallel.values import DIVISIONS, PREFECTURE_REGION, STAGES, Stage, StageOutcome
from domain.staff import Actor, Post, StaffDirectory, default_staff, service_centre

MONTH = "2020-04"
SCENARIO = "aba-2020-04"  # the batch name its projects are recorded under
SEED = 20200430
PREFECTURE_PROJECTS, PREFECTURE_INVESTMENT = 11, Decimal("181963400.00")
COUNTY_PROJECTS, COUNTY_INVESTMENT = 511, Decimal("5687251300.00")
OPEN_AT_MONTH_END, LAST_DECIDED_IN_MARCH = 18, 12  # not handled in April
# Relative number of projects per county/city (the capital and the tourist counties build most).
COUNTY_WEIGHTS = {
    "马尔康市": 16, "汶川县": 12, "九寨沟县": 9, "茂县": 9, "松潘县": 8, "理县": 7, "金川县": 7, "小金县": 7,
    "若尔盖县": 7, "阿坝县": 6, "红原县": 5, "黑水县": 5, "壤塘县": 4,
}  # fmt: skip
TOWNS = {
    "马尔康市": ("马尔康镇", "卓克基镇", "松岗镇"), "汶川县": ("威州镇", "映秀镇", "水磨镇", "漩口镇"),
    "理县": ("杂谷脑镇", "米亚罗镇", "薛城镇"), "茂县": ("凤仪镇", "南新镇", "叠溪镇"),
    "松潘县": ("进安镇", "川主寺镇"), "九寨沟县": ("永乐镇", "漳扎镇"), "金川县": ("金川镇",),
    "小金县": ("美兴镇", "四姑娘山镇"), "黑水县": ("芦花镇",), "壤塘县": ("壤柯镇",), "阿坝县": ("阿坝镇",),
    "若尔盖县": ("达扎寺镇", "唐克镇"), "红原县": ("邛溪镇", "刷经寺镇"),
}  # fmt: skip
BRANDS = ("雪域", "岷江", "嘉绒", "羌寨", "草原", "高原", "九顶", "四姑娘")
# (name, industry, project type, owner); {town} {region} {short} {brand} are filled in. Fictional owners.
COUNTY_TEMPLATES = (
    ("{town}污水处理厂提标改造工程", "46", "01", "{region}住房和城乡建设局"),
    ("{town}农村饮水安全巩固提升工程", "46", "01", "{region}水务局"),
    ("{town}中心小学教学综合楼建设项目", "47", "01", "{region}教育局"),
    ("{town}卫生院业务用房建设项目", "47", "01", "{region}卫生健康局"),
    ("{town}游客服务中心建设项目", "47", "01", "{region}文化体育和旅游局"),
    ("{town}保障性安居工程", "47", "01", "{region}住房和城乡建设局"),
    ("{town}街道及排水管网改造工程", "48", "01", "{region}住房和城乡建设局"),
    ("{town}通村公路改建工程", "48", "01", "{region}交通运输局"),
    ("{town}地质灾害综合治理工程", "48", "01", "{region}自然资源局"),
    ("{town}文化活动中心建设项目", "47", "01", "{region}文化体育和旅游局"),
    ("{town}{brand}精品民宿建设项目", "61", "03", "{short}{brand}旅游开发有限公司"),
    ("{town}{brand}农产品冷链物流中心", "59", "03", "{short}{brand}物流有限公司"),
    ("{town}牦牛肉制品加工厂建设项目", "13", "03", "{short}{brand}食品有限公司"),
    ("{town}{brand}商住楼建设项目", "70", "03", "{short}{brand}房地产开发有限公司"),
    ("{town}小水电站增效扩容改造项目", "44", "02", "{short}{brand}水电开发有限公司"),
    ("{town}加油站建设项目", "52", "03", "{short}{brand}石油销售有限公司"),
)
PREFECTURE_TEMPLATES = (
    ("阿坝州人民医院门诊综合楼建设项目", "47", "01", "阿坝州人民医院"),
    ("阿坝州应急物资储备库建设项目", "47", "01", "阿坝州应急管理局"),
    ("阿坝州职业技术学校实训楼建设项目", "47", "01", "阿坝州教育局"),
    ("阿坝州疾病预防控制中心业务用房建设项目", "47", "01", "阿坝州卫生健康委员会"),
    ("阿坝州公共实训基地建设项目", "47", "01", "阿坝州人力资源和社会保障局"),
    ("阿坝州图书馆改造提升工程", "47", "01", "阿坝州文化体育和旅游局"),
    ("阿坝州民族体育场配套设施建设项目", "47", "01", "阿坝州文化体育和旅游局"),
    ("阿坝州城区供水管网改造工程", "46", "01", "阿坝州水务局"),
    ("阿坝州综合检验检测中心建设项目", "47", "01", "阿坝州市场监督管理局"),
    ("阿坝州{brand}全域旅游集散中心建设项目", "61", "03", "阿坝州{brand}文化旅游发展有限公司"),
    ("阿坝州{brand}高原特色农产品交易中心", "59", "03", "阿坝州{brand}农业开发有限公司"),
    ("阿坝州救灾物资中转仓库建设项目", "59", "01", "阿坝州应急管理局"),
    ("阿坝州干部职工周转房建设项目", "47", "01", "阿坝州机关事务管理局"),
)
# Which stage a project had decided in April: the approval stages come first in a project's life.
STAGE_SHARES = ((Stage.LAND_USE_PLANNING, 35), (Stage.CONSTRUCTION_PLANNING, 25),
                (Stage.CONSTRUCTION_PERMIT, 25), (Stage.COMPLETION_ACCEPTANCE, 15))  # fmt: skip
# Investment size classes in 0.01 万元 units (100 元): (share in %, low, high), scaled to the exact total.
SIZE_CLASSES = ((35, 10_000, 50_000), (35, 50_000, 150_000), (20, 150_000, 400_000),
                (8, 400_000, 1_000_000), (2, 1_000_000, 3_000_000))  # fmt: skip
UNIT = Decimal(100)  # amounts are whole hundreds of 元 (两位小数的万元), as projects declare them
DENIED_IN_APRIL = 4
TWO_STAGES_IN_APRIL = 2


@dataclass(frozen=True)
class ScenarioStage:
    stage: Stage
    accepted_at: datetime
    answered_at: datetime  # every department's first answer (the open ones: only half have answered)
    decided_at: datetime | None  # None: still under review at month end
    outcome: StageOutcome | None = None
    corrections: tuple[str, ...] = ()  # departments asking for materials: one merged notice
    supplemented_at: datetime | None = None
    reviewed_at: datetime | None = None  # the correcting departments' final opinions
    disagreeing: str = ""  # the department whose disagreement denies the stage


@dataclass(frozen=True)
class ScenarioProject:
    code: str
    name: str
    owner: str
    investment: Decimal
    level: Level
    region: str
    registered_at: datetime
    stages: tuple[ScenarioStage, ...]

    @property
    def handled_in_april(self) -> bool:
        return any(s.decided_at is not None and month_of(s.decided_at) == MONTH for s in self.stages)


class _Gen:
    def __init__(self, catalogue: Catalogue, calendar: ServiceCalendar) -> None:
        self.rng = random.Random(SEED)
        self.catalogue = catalogue
        self.calendar = calendar
        self.days = [d for d in _dates(date(2016, 1, 1), date(2020, 4, 30)) if calendar.is_working_day(d)]
        self.index = {d: i for i, d in enumerate(self.days)}
        self.april = [d for d in self.days if d >= date(2020, 4, 1)]
        self.march = [d for d in self.days if date(2020, 3, 1) <= d < date(2020, 4, 1)]
        self.serials: dict[tuple[int, str], int] = {}
        self.names: dict[str, int] = {}
        self._plans: dict[str, tuple[StagePlan, ...]] = {}

    # -- randomness: only random(), only correctly rounded arithmetic --
    def below(self, n: int) -> int:
        return int(self.rng.random() * n)

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)

    def pick(self, items: Sequence[str]) -> str:
        return items[self.below(len(items))]

    def chance(self, percent: int) -> bool:
        return self.below(100) < percent

    def weighted(self, shares: Sequence[tuple[Stage, int]]) -> Stage:
        n = self.below(sum(w for _, w in shares))
        for item, w in shares:
            if n < w:
                return item
            n -= w
        raise AssertionError  # pragma: no cover

    # -- time --
    def shift(self, day: date, working_days: int) -> date:
        return self.days[self.index[day] + working_days]

    def at(self, day: date, earliest: int = 9 * 60, latest: int = 17 * 60 + 30) -> datetime:
        minutes = self.between(earliest, latest)
        return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=SHANGHAI)

    def plan(self, region: str) -> tuple[StagePlan, ...]:
        if region not in self._plans:
            self._plans[region] = standard_plan(region, self.catalogue, datetime(2020, 4, 1, tzinfo=SHANGHAI))
        return self._plans[region]

    # -- amounts --
    def amounts(self, n: int, total: Decimal) -> list[Decimal]:
        """``n`` amounts in whole hundreds of 元 that add up to ``total`` exactly (largest remainder)."""
        units = int(total / UNIT)
        assert units * UNIT == total
        weights = []
        for _ in range(n):
            roll, low, high = self.below(100), 0, 0
            for share, low, high in SIZE_CLASSES:  # noqa: B007
                if roll < share:
                    break
                roll -= share
            weights.append(self.between(low, high))
        w = sum(weights)
        parts = [units * x // w for x in weights]
        order = sorted(range(n), key=lambda i: (-(units * weights[i] % w), i))
        for i in order[: units - sum(parts)]:
            parts[i] += 1
        return [Decimal(p) * UNIT for p in parts]

    # -- identity --
    def identity(self, region: str, level: Level, registered: date, k: int) -> tuple[str, str, str]:
        if level is Level.PREFECTURE:
            name, industry, kind, owner = PREFECTURE_TEMPLATES[k % len(PREFECTURE_TEMPLATES)]
        else:
            name, industry, kind, owner = COUNTY_TEMPLATES[self.below(len(COUNTY_TEMPLATES))]
        short = region[:-1] if region != PREFECTURE_REGION else "阿坝州"
        fill = {"town": self.pick(TOWNS.get(region, ("",))), "region": region, "short": short,
                "brand": self.pick(BRANDS)}  # fmt: skip
        name, owner = name.format(**fill), owner.format(**fill)
        seen = self.names.get(name, 0)
        self.names[name] = seen + 1
        if seen:
            name = f"{name}（{'二三四五六七八九十'[min(seen, 9) - 1]}期）" if seen < 10 else f"{name}（{seen + 1}）"
        division = DIVISIONS[region]
        serial = self.serials.get((registered.year, division), 100 + self.below(400)) + self.between(1, 9)
        self.serials[(registered.year, division)] = serial
        return f"{registered.year}-{division}-{industry}-{kind}-{serial:06d}", name, owner

    # -- timelines --
    def stage(
        self,
        stage: Stage,
        region: str,
        accepted: date,
        decided: date | None,
        *,
        corrections: bool = False,
        deny: bool = False,
        decided_at: datetime | None = None,
    ) -> ScenarioStage:
        span = self.index[decided or self.days[-1]] - self.index[accepted]
        answered = self.shift(accepted, max(1, min(span - 1, self.between(1, 3)))) if span > 1 else accepted
        sp = self.plan(region)[stage.position]
        departments = [p.department for p in sp.participants]
        others = [d for d in departments if d != sp.lead_department] or departments
        asking: tuple[str, ...] = ()
        supplemented_at = reviewed_at = None
        if corrections and decided is not None and span >= 6:
            answered = self.shift(accepted, 1)
            supplemented = self.shift(answered, self.between(1, span - 4))
            asking = tuple(sorted({self.pick(others), self.pick(departments)}, key=departments.index))
            supplemented_at = self.at(supplemented, 9 * 60, 12 * 60)
            reviewed_at = self.at(self.shift(supplemented, 1), 9 * 60, 12 * 60)
        disagreeing = self.pick(others) if deny else ""
        outcome = None if decided is None else StageOutcome.DENIED if deny else StageOutcome.APPROVED
        accepted_at = self.at(accepted, 9 * 60, 11 * 60)
        if decided is not None and decided_at is None:
            decided_at = self.at(decided, 14 * 60, 17 * 60 + 30)
        answered_at = self.at(answered, 11 * 60, 12 * 60) if answered > accepted else accepted_at + timedelta(hours=2)
        return ScenarioStage(
            stage=stage,
            accepted_at=accepted_at,
            answered_at=answered_at,
            decided_at=decided_at,
            outcome=outcome,
            corrections=asking,
            supplemented_at=supplemented_at,
            reviewed_at=reviewed_at,
            disagreeing=disagreeing,
        )

    def history(self, region: str, upto: Stage, accepted_next: date) -> list[ScenarioStage]:
        """Earlier stages, all approved, each decided before the next was applied for (never in April)."""
        stages: list[ScenarioStage] = []
        nxt = accepted_next
        for stage in reversed(STAGES[: upto.position]):
            # The applicant prepares the next application; before completion acceptance, the building is built.
            gap = self.between(120, 400) if stage is Stage.CONSTRUCTION_PERMIT else self.between(3, 40)
            decided = self.shift(nxt, -gap)
            while decided >= date(2020, 4, 1):
                decided = self.shift(decided, -1)
            accepted = self.shift(decided, -self.between(3, 9))
            stages.insert(0, self.stage(stage, region, accepted, decided))
            nxt = accepted
        return stages

    def project(
        self, region: str, level: Level, investment: Decimal, stages: list[ScenarioStage], k: int
    ) -> ScenarioProject:
        registered = self.shift(stages[0].accepted_at.date(), -self.between(1, 10))
        code, name, owner = self.identity(region, level, registered, k)
        return ScenarioProject(
            code, name, owner, investment, level, region, self.at(registered, 9 * 60, 11 * 60), tuple(stages)
        )

    def counted(self, region: str, level: Level, investment: Decimal, k: int, *, deny: bool, double: bool,
                early: bool) -> ScenarioProject:  # fmt: skip
        """A project with at least one stage decided in April 2020 (Beijing time)."""
        stage = self.weighted(STAGE_SHARES)
        if deny:
            stage = (Stage.LAND_USE_PLANNING, Stage.CONSTRUCTION_PLANNING)[self.below(2)]
        if double and stage is Stage.LAND_USE_PLANNING:
            stage = Stage.CONSTRUCTION_PERMIT
        decided = self.april[self.between(12, len(self.april) - 1)] if double else self.pick_day(self.april)
        if early:
            decided = self.april[0]
        span = self.between(3, 9)
        corrections = not deny and not double and not early and self.chance(12)
        if corrections:
            span = max(span, 7)
        if double:
            span = 3
        accepted = self.shift(decided, -span)
        early_at = datetime.combine(decided, time(7, 30), tzinfo=SHANGHAI) if early else None
        last = self.stage(stage, region, accepted, decided, corrections=corrections, deny=deny, decided_at=early_at)
        if double:  # the previous stage decided in April too: the project still counts once
            prev_decided = self.shift(accepted, -1)
            prev = self.stage(STAGES[stage.position - 1], region, self.shift(prev_decided, -3), prev_decided)
            stages = [*self.history(region, prev.stage, prev.accepted_at.date()), prev, last]
        else:
            stages = [*self.history(region, stage, accepted), last]
        return self.project(region, level, investment, stages, k)

    def pick_day(self, days: Sequence[date]) -> date:
        return days[self.below(len(days))]

    def not_counted(self, region: str, open_at_month_end: bool, k: int) -> ScenarioProject:
        investment = self.amounts(1, Decimal(self.between(2_000, 200_000)) * UNIT)[0]
        level = Level.PREFECTURE if region == PREFECTURE_REGION else Level.COUNTY
        stage = self.weighted(STAGE_SHARES)
        if open_at_month_end:  # accepted in the last days of April, no decision yet
            accepted = self.april[self.between(len(self.april) - 6, len(self.april) - 1)]
            last = self.stage(stage, region, accepted, None)
            stages = [*self.history(region, stage, accepted), last]
        else:  # last decision in March; the next stage not yet applied for
            decided = self.pick_day(self.march)
            accepted = self.shift(decided, -self.between(3, 9))
            late_at = datetime.combine(decided, time(23, 50), tzinfo=SHANGHAI) if k == 0 else None
            last = self.stage(stage, region, accepted, decided, decided_at=late_at)
            stages = [*self.history(region, stage, accepted), last]
        return self.project(region, level, investment, stages, k)


def _dates(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _split(total: int, weights: dict[str, int]) -> dict[str, int]:
    """Largest-remainder apportionment in integers: the parts add up to ``total`` exactly."""
    w = sum(weights.values())
    parts = {k: total * v // w for k, v in weights.items()}
    for k in sorted(weights, key=lambda k: (-(total * weights[k] % w), k))[: total - sum(parts.values())]:
        parts[k] += 1
    return parts


def generate(catalogue: Catalogue | None = None, calendar: ServiceCalendar | None = None) -> list[ScenarioProject]:
    """Every project of the scenario, counted ones first (prefecture, then counties), then the others."""
    g = _Gen(catalogue or default_catalogue(), calendar or default_calendar())
    projects: list[ScenarioProject] = []
    per_county = _split(COUNTY_PROJECTS, COUNTY_WEIGHTS)
    plan = [(PREFECTURE_REGION, Level.PREFECTURE, PREFECTURE_PROJECTS, PREFECTURE_INVESTMENT)]
    regions = [(r, Level.COUNTY, n) for r, n in per_county.items()]
    county_amounts = iter(g.amounts(COUNTY_PROJECTS, COUNTY_INVESTMENT))
    prefecture_amounts = iter(g.amounts(PREFECTURE_PROJECTS, PREFECTURE_INVESTMENT))
    k = 0
    for region, level, n, _ in plan:
        for i in range(n):
            projects.append(
                g.counted(region, level, next(prefecture_amounts), i, deny=False, double=i == 0, early=False)
            )
    for region, level, n in regions:
        for i in range(n):
            deny = k % (COUNTY_PROJECTS // DENIED_IN_APRIL) == 7
            double = k == 101
            projects.append(g.counted(region, level, next(county_amounts), i, deny=deny, double=double, early=k == 0))
            k += 1
    every = [PREFECTURE_REGION, *COUNTY_WEIGHTS]
    for i in range(OPEN_AT_MONTH_END):
        projects.append(g.not_counted(every[i % len(every)], True, i))
    for i in range(LAST_DECIDED_IN_MARCH):
        projects.append(g.not_counted(every[(i + 5) % len(every)], False, i))
    return projects


# ---- driving a generated project through the aggregate --------------------------------------------


class _Cast:
    """The first holder of each post (staff id ``…-a``): who acts in the scenario."""

    def __init__(self, staff: StaffDirectory) -> None:
        self._by_post: dict[tuple[str, str, str], Actor] = {}
        for a in staff.all():
            self._by_post.setdefault((a.department, a.post, a.region), a)

    def __call__(self, department: str, post: Post, region: str) -> Actor:
        return self._by_post[(department, post.value, region)]


def drive(
    record: ScenarioProject,
    catalogue: Catalogue | None = None,
    staff: StaffDirectory | None = None,
    calendar: ServiceCalendar | None = None,
    *,
    cast: _Cast | None = None,
) -> Project:
    """Register the project and take it through its stages with the real commands (nothing is saved)."""
    catalogue = catalogue or default_catalogue()
    calendar = calendar or default_calendar()
    who = cast or _Cast(staff or default_staff())
    region = record.region
    plan = standard_plan(region, catalogue, datetime(2020, 4, 1, tzinfo=SHANGHAI))
    front = who(service_centre(region), Post.FRONT_DESK, region)
    cid = f"scenario/{record.code}"
    p = Project.register(
        code=record.code,
        name=record.name,
        owner=record.owner,
        investment=record.investment,
        level=record.level.value,
        region=region,
        plan=plan,
        actor=front,
        at=record.registered_at,
        command_id=f"{cid}/register",
        batch=SCENARIO,
    )
    for st in record.stages:
        sp = plan[st.stage.position]
        lead = who(sp.lead_department, Post.REVIEWER, region)
        step = f"{cid}/{st.stage.value}"
        p.accept_stage(
            stage=st.stage,
            actor=front,
            at=st.accepted_at,
            command_id=f"{step}/accept",
            calendar=calendar,
            materials=[f"{st.stage.label}阶段申请表"],
        )
        answering = sp.participants if st.decided_at else sp.participants[: (len(sp.participants) + 1) // 2]
        for i, part in enumerate(answering):
            reviewer = who(part.department, Post.REVIEWER, region)
            at = st.answered_at + timedelta(minutes=i)
            kw: dict[str, object] = {}
            if part.department in st.corrections:
                kind = "needs_correction"
                kw["missing"] = [catalogue.get(part.matters[0]).materials[-1]]
            elif part.department == st.disagreeing:
                kind, kw["reason"] = "disagree", "不符合国土空间规划和生态保护红线管控要求"
            else:
                kind = "agree"
            p.give_opinion(
                stage=st.stage,
                department=part.department,
                opinion=kind,
                actor=reviewer,
                at=at,
                command_id=f"{step}/opinion/{part.department}",
                **kw,  # type: ignore[arg-type]
            )
        if st.supplemented_at is not None and st.reviewed_at is not None:
            notice = p.view().stage(st.stage).notice
            p.supplement(
                stage=st.stage,
                materials=[m for item in notice for m in item.materials],
                actor=front,
                at=st.supplemented_at,
                command_id=f"{step}/supplement",
                calendar=calendar,
            )
            for i, department in enumerate(st.corrections):
                p.give_opinion(
                    stage=st.stage,
                    department=department,
                    opinion="agree",
                    actor=who(department, Post.REVIEWER, region),
                    at=st.reviewed_at + timedelta(minutes=i),
                    command_id=f"{step}/final/{department}",
                )
        if st.decided_at is not None and st.outcome is not None:
            denied = st.outcome is StageOutcome.DENIED
            p.decide_stage(
                stage=st.stage,
                outcome=st.outcome,
                actor=lead,
                at=st.decided_at,
                command_id=f"{step}/decide",
                calendar=calendar,
                reason=f"{st.disagreeing}不同意，不予通过" if denied else "",
            )
    return p


@dataclass
class ScenarioRun:
    """All projects driven once, sharing the staff lookup (what the loader and the tests use)."""

    records: list[ScenarioProject]

    @cached_property
    def projects(self) -> list[Project]:
        cast = _Cast(default_staff())
        return [drive(r, cast=cast) for r in self.records]


def april_2020() -> ScenarioRun:
    return ScenarioRun(generate())
