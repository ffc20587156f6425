"""Roles, scopes and who may do what: the one table the API, the pages and the CLI consult.

A role says WHICH use cases a user may call (a front-desk clerk takes in and accepts, a reviewer
decides …); the scope says WHERE (regions, and departments within them); the staff post the user is
linked to says AS WHOM they act. The workflow's validators check the post again on every step
(``domain.cases.steps.check_actor``), so a role never lets anyone act for a post they do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.cases.steps import STEPS, Step
from domain.errors import InvalidValue
from domain.staff import Actor, Post

ALL_REGIONS = "*"


class Role(StrEnum):
    FRONT_DESK = "front_desk"
    REVIEWER = "reviewer"
    OUTPUT_WINDOW = "output_window"
    BUREAU_APPROVER = "bureau_approver"
    SUPERVISOR = "supervisor"
    TRANSFER_ADMIN = "transfer_admin"
    AUDITOR = "auditor"
    SYSTEM_ADMIN = "system_admin"

    @property
    def label(self) -> str:
        return _ROLE_LABELS[self]

    @classmethod
    def parse(cls, value: str) -> Role:
        """A role by its code or its Chinese label; refused with the list of valid ones."""
        value = value.strip()
        for r in cls:
            if value in (r.value, r.label):
                return r
        allowed = "、".join(f"{r.value}（{r.label}）" for r in cls)
        raise InvalidValue(f"角色「{value}」无效，应为：{allowed}", field="role")


_ROLE_LABELS = {
    Role.FRONT_DESK: "窗口受理员",
    Role.REVIEWER: "审查员",
    Role.OUTPUT_WINDOW: "出件窗口",
    Role.BUREAU_APPROVER: "审批局审批员",
    Role.SUPERVISOR: "督查",
    Role.TRANSFER_ADMIN: "划转管理员",
    Role.AUDITOR: "审计（只读）",
    Role.SYSTEM_ADMIN: "系统管理员",
}

_S = Step
# Which case steps each role may take (the post it is linked to must still be the one the step needs).
ROLE_STEPS: dict[Role, frozenset[Step]] = {
    Role.FRONT_DESK: frozenset({_S.NOTICE, _S.SUPPLEMENT, _S.ACCEPT, _S.REFUSE, _S.WITHDRAW}),
    Role.REVIEWER: frozenset({_S.SUSPEND, _S.RESUME, _S.DECIDE, _S.WITHDRAW}),
    Role.OUTPUT_WINDOW: frozenset({_S.DELIVER}),
    Role.BUREAU_APPROVER: frozenset({_S.SUSPEND, _S.RESUME, _S.DECIDE, _S.WITHDRAW}),
    Role.SUPERVISOR: frozenset(),
    Role.TRANSFER_ADMIN: frozenset(),
    Role.AUDITOR: frozenset(),
    Role.SYSTEM_ADMIN: frozenset(),
}
assert all(STEPS[s].staff for steps in ROLE_STEPS.values() for s in steps), "roles grant staff steps only"
SUBMIT_ROLES = frozenset({Role.FRONT_DESK})  # 收件
ADMIN_ROLES = frozenset({Role.SYSTEM_ADMIN})  # users, imports, projections
# Who may see the transfer programme's progress and trial-run report (read only), within their regions.
TRANSFER_VIEW_ROLES = frozenset(
    {Role.TRANSFER_ADMIN, Role.SUPERVISOR, Role.AUDITOR, Role.SYSTEM_ADMIN, Role.BUREAU_APPROVER}
)
# Roles that act on cases need a staff post; the post each role is normally linked to.
ROLE_POSTS: dict[Role, Post] = {
    Role.FRONT_DESK: Post.FRONT_DESK,
    Role.REVIEWER: Post.REVIEWER,
    Role.BUREAU_APPROVER: Post.REVIEWER,
    Role.OUTPUT_WINDOW: Post.OUTPUT_WINDOW,
    Role.SUPERVISOR: Post.SUPERVISOR,
}
POST_ROLES: dict[str, Role] = {
    Post.FRONT_DESK.value: Role.FRONT_DESK,
    Post.REVIEWER.value: Role.REVIEWER,
    Post.OUTPUT_WINDOW.value: Role.OUTPUT_WINDOW,
    Post.SUPERVISOR.value: Role.SUPERVISOR,
}


@dataclass(frozen=True)
class Scope:
    """Where a user may look and act: regions (``*`` for all), and departments within them (none: all)."""

    regions: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()

    @property
    def all_regions(self) -> bool:
        return ALL_REGIONS in self.regions

    def covers(self, region: str, department: str) -> bool:
        if not (self.all_regions or region in self.regions):
            return False
        return not self.departments or department in self.departments

    def describe(self) -> str:
        where = "全部地区" if self.all_regions else ("、".join(self.regions) or "无")
        return where + (f"（{'、'.join(self.departments)}）" if self.departments else "")


@dataclass(frozen=True)
class Principal:
    """A signed-in user as every use case sees them: roles, scope, and the staff post they act as."""

    username: str
    display_name: str
    roles: frozenset[Role]
    scope: Scope
    actor: Actor | None  # the staff member (with ``via``) this user acts as; None: may not act on cases
    via: str  # "web:<user>", "api:<user>", "cli"

    def has(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_admin(self) -> bool:
        return self.has(*ADMIN_ROLES)

    def may_take(self, step: Step) -> bool:
        """The role allows the step (the post and the case's state are checked by the step's rules)."""
        return self.actor is not None and any(step in ROLE_STEPS[r] for r in self.roles)

    @property
    def may_submit(self) -> bool:
        return self.actor is not None and self.has(*SUBMIT_ROLES)

    def to_dict(self) -> dict[str, object]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "roles": sorted(r.value for r in self.roles),
            "regions": list(self.scope.regions),
            "departments": list(self.scope.departments),
            "staff": self.actor.to_dict() if self.actor else None,
        }
