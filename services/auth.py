"""Authorisation of the case use cases: the same services as the CLI, for a signed-in user.

Every call names its ``Principal``. A user outside a case's region or department is refused
(``Forbidden``) before anything is read or written; a step needs a role that grants it and a
staff post to act as, and then goes through the one service (a Temporal Update whose validator
checks again, with the registry's rules, that this actor's post may take the step). Which steps a
page offers is decided here by the same registry ``validate`` on the case view, never by templates.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from domain.calendar import DayType, to_local
from domain.cases.application import TimelineEntry
from domain.cases.model import CaseStatus, CaseView
from domain.cases.steps import STEPS, Notice, Step, StepRequest, StepSpec, Supplement, validate
from domain.errors import DomainError, InvalidValue, MissingField
from domain.identity import Principal, Role
from domain.staff import Post
from projections.queries import CaseQuery, CaseRow, DoneItem, Page, WorkItem, case_where, done_by, inbox_for
from services.cases import CaseDetail, Done
from services.identity import Forbidden, NotAuthenticated

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap

__all__ = ["CaseAccess", "CaseRow", "DoneItem", "Page", "WorkItem", "require"]  # the rows pages and API render

WORKLIST_TABS = ("queue", "inbox", "done")


@dataclass(frozen=True)
class DeadlineInfo:
    """One deadline of a case as staff read it: when, and how many counted days are left."""

    key: str
    label: str
    at: datetime
    day_type: str
    days_left: int  # counted days from today to the deadline (today included); negative: days overdue
    state: str  # ok | warning | overdue


@dataclass(frozen=True)
class CasePage:
    """What the case page shows: the case, its deadlines, its timeline and the steps THIS user may take."""

    detail: CaseDetail
    deadlines: list[DeadlineInfo]
    steps: list[StepSpec]


@dataclass(frozen=True)
class Worklist:
    tab: str
    items: list[WorkItem]
    done: list[DoneItem]
    total: int


def require(p: Principal | None) -> Principal:
    if p is None:
        raise NotAuthenticated("请先登录")
    return p


class CaseAccess:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    # ---- reads --------------------------------------------------------------------------------

    @staticmethod
    def covers(p: Principal, region: str, department: str) -> bool:
        """The user's scope, or the unit their staff post is in NOW: a person moved with a transferred item
        (a recorded ``StaffMember`` move, which ``p.actor`` reflects) acts in the new unit at once."""
        here = p.actor is not None and (p.actor.region, p.actor.department) == (region, department)
        return here or p.scope.covers(region, department)

    def check_case(self, p: Principal, view: CaseView) -> None:
        if not self.covers(p, view.region, view.department):
            raise Forbidden(
                f"办件「{view.case_no}」属于{view.region}·{view.department}，不在您的工作范围（{p.scope.describe()}）内",
                case_no=view.case_no,
            )

    def show(self, p: Principal, case_no: str) -> CaseDetail:
        detail = self.boot.cases.show(case_no)
        self.check_case(p, detail.case)
        return detail

    def page(self, p: Principal, case_no: str) -> CasePage:
        detail = self.show(p, case_no)
        return CasePage(detail, self.deadlines(detail.case), self.available_steps(p, detail.case))

    def history(self, p: Principal, case_no: str) -> list[TimelineEntry]:
        return self.show(p, case_no).timeline

    def search(self, p: Principal, q: CaseQuery) -> Page[CaseRow]:
        """A search within the user's scope: a filter outside it is refused, none means all of the scope."""
        scope = p.scope
        if not scope.all_regions:
            if not scope.regions:
                return Page([], 0)
            if q.region and q.region not in scope.regions:
                raise Forbidden(f"地区「{q.region}」不在您的工作范围（{scope.describe()}）内", field="region")
            q = replace(q, regions=scope.regions)
        if scope.departments:
            if q.department and q.department not in scope.departments:
                raise Forbidden(f"部门「{q.department}」不在您的工作范围（{scope.describe()}）内", field="department")
            q = replace(q, departments=scope.departments)
        return self.boot.cases.search(q)

    def worklist(self, p: Principal, tab: str = "queue", limit: int = 200) -> Worklist:
        if tab not in WORKLIST_TABS:
            raise InvalidValue(f"待办类别「{tab}」无效，应为：{'、'.join(WORKLIST_TABS)}", field="tab")
        a = p.actor
        if a is None:
            return Worklist(tab, [], [], 0)
        self.boot.require_data()
        a = self.boot.routing.current(a)  # the post held now: a recorded move takes the worklist along
        engine = self.boot.read_models
        if tab == "done":
            page = done_by(engine, a.user_id, limit)
            return Worklist(tab, [], page.items, page.total)
        if tab == "inbox":
            items = inbox_for(engine, a.department, a.post, a.region, a.user_id, limit)
        else:
            items = self.boot.cases.worklist(a, limit)
        return Worklist(tab, items.items, [], items.total)

    def deadlines(self, view: CaseView, now: datetime | None = None) -> list[DeadlineInfo]:
        """The deadlines that still matter, with days left counted on the service calendar."""
        now = now or datetime.now(UTC)
        out: list[DeadlineInfo] = []
        s = view.status
        rules = self.boot.settings.rules
        if s is CaseStatus.SUBMITTED and view.deemed_acceptance_at:
            out.append(self._deadline("deemed", "法定受理答复期限（逾期视为受理）", view.deemed_acceptance_at,
                                      rules.deemed_acceptance_day_type, now, None))  # fmt: skip
        if s is CaseStatus.AWAITING_CORRECTION and view.correction_due_at:
            out.append(self._deadline("correction", "补正期限", view.correction_due_at, rules.correction_day_type,
                                      now, None))  # fmt: skip
        if view.promised_deadline and not view.is_closed and s is not CaseStatus.DELIVERED:
            day_type = DayType(view.day_type) if view.day_type in {d.value for d in DayType} else DayType.WORKING
            out.append(self._deadline("promised", "承诺办结期限", view.promised_deadline, day_type, now,
                                      view.warning_at))  # fmt: skip
        return out

    def _deadline(
        self, key: str, label: str, at: datetime, day_type: DayType, now: datetime, warn_at: datetime | None
    ) -> DeadlineInfo:
        cal = self.boot.store.calendar
        today, due_day = to_local(now).date(), to_local(at).date()  # ``at`` is local midnight after the last day
        try:
            if now < at:
                left = cal.count_days(today, due_day, day_type, allow_provisional=True)
            else:
                left = -cal.count_days(due_day, today, day_type, allow_provisional=True)
        except DomainError:
            left = (due_day - today).days
        state = "overdue" if now >= at else ("warning" if (warn_at and now >= warn_at) or left <= 1 else "ok")
        return DeadlineInfo(key, label, at, day_type.value, left, state)

    def available_steps(self, p: Principal, view: CaseView) -> list[StepSpec]:
        """Each staff step this user may take on this case now: role, scope, then the registry's own
        ``validate`` (status, post, rules) on the case view; only a missing form field is left to the form."""
        if p.actor is None or not self.covers(p, view.region, view.department):
            return []
        now = datetime.now(UTC)
        out = []
        for spec in STEPS.values():
            if not spec.staff or not p.may_take(spec.step):
                continue
            try:
                validate(view, self._probe(spec, p, view), now)
            except (MissingField, InvalidValue) as e:
                if e.details.get("field") not in self.form_fields(spec):
                    continue
            except DomainError:
                continue
            out.append(spec)
        return out

    @staticmethod
    def form_fields(spec: StepSpec) -> list[str]:
        """The fields staff fill in for a step (the system-only flags are not theirs)."""
        return [f.name for f in fields(spec.request) if f.name != "actor" and f.type in ("str", "list[str]")]

    @staticmethod
    def _probe(spec: StepSpec, p: Principal, view: CaseView) -> StepRequest:
        assert p.actor is not None
        if spec.request in (Notice, Supplement):  # what the service fills in when staff name nothing
            return spec.request(actor=p.actor, materials=view.missing_materials)  # type: ignore[call-arg]
        return spec.request(actor=p.actor)

    # ---- commands -----------------------------------------------------------------------------

    def build(self, p: Principal, step: Step, values: dict[str, Any]) -> StepRequest:
        spec = STEPS[step]
        if not spec.staff:
            raise Forbidden(f"「{spec.label}」只能由系统自动办理", step=step.value)
        if not p.may_take(step):
            roles = "、".join(r.label for r in Role if step in _steps_of(r)) or "系统"
            raise Forbidden(f"您的角色无权办理「{spec.label}」（应为：{roles}，且关联相应岗位）", step=step.value)
        allowed = set(self.form_fields(spec))
        unknown = sorted(set(values) - allowed)
        if unknown:
            raise InvalidValue(f"「{spec.label}」不接受字段：{'、'.join(unknown)}", field=unknown[0])
        assert p.actor is not None
        return spec.request(actor=p.actor, **values)

    async def step(self, p: Principal, case_no: str, step: Step, values: dict[str, Any]) -> Done:
        """One staff step by this user: refused (403) outside their role or scope before anything is sent."""
        request = self.build(p, step, values)
        self.boot.require_data()
        where = case_where(self.boot.read_models, case_no)  # cheap; the store answers for a case not listed yet
        if where is None:
            view = self.boot.store.get_case(case_no)
            where = (view.region, view.department)
        if not self.covers(p, *where):
            raise Forbidden(
                f"办件「{case_no}」属于{where[0]}·{where[1]}，不在您的工作范围（{p.scope.describe()}）内",
                case_no=case_no,
            )
        return await self.boot.cases.step(case_no, request)

    async def submit(
        self, p: Principal, *, matter_code: str, applicant: str, materials: list[str], case_no: str | None = None
    ) -> Done:
        if not p.may_submit:
            raise Forbidden("只有关联综合受理窗口岗位的窗口受理员可以收件", step="submit")
        matter = self.boot.directory.matter(matter_code)
        authority = self.boot.routing.competent_authority(matter_code, datetime.now(UTC))
        if not p.scope.covers(authority.region, authority.department):
            raise Forbidden(
                f"事项「{matter.name}」由{authority.region}办理，不在您的工作范围（{p.scope.describe()}）内"
            )
        assert p.actor is not None
        return await self.boot.cases.submit(
            matter_code=matter_code, applicant=applicant, materials=materials, actor=p.actor, case_no=case_no
        )

    def matters_for(self, p: Principal) -> list[Any]:
        """The matters a front-desk user may take in: those of the regions in their scope."""
        matters = self.boot.directory.matters()
        if p.scope.all_regions:
            return matters
        return [m for m in matters if m.authority.region in p.scope.regions]

    def staff_post(self, p: Principal) -> str:
        a = p.actor
        return f"{a.department}·{Post(a.post).label}" if a else ""


def _steps_of(role: Role) -> frozenset[Step]:
    from domain.identity import ROLE_STEPS

    return ROLE_STEPS[role]
