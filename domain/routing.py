"""Durable routing: who is competent for a matter at a moment, answered from recorded events.

Every change of a matter's competent authority (划转 to the approval bureau, a roll-back after the
trial, a hand-back when the item leaves the bureau's list, any other adjustment) is an
``AuthorityChanged`` event on that matter's ``MatterRouting`` aggregate. The catalogue CSV only
seeds the authority before the first change. ``RoutingPolicy`` folds the catalogue and the
recorded changes into one answer that every process (worker, projector, CLI, HTTP API) computes
the same way, so nothing depends on one process's memory.

Rules:

* A change applies from its ``effective_from`` moment on (inclusive). Of two changes effective at
  the same moment the one recorded later wins, so a planned cut-over is cancelled by recording a
  change back to the origin effective at the same moment. Changes are recorded in order of their
  effective moment: history before the last recorded change is closed.
* **The authority valid at ACCEPTANCE (受理) handles a case to its end.** A case accepted before a
  cut-over stays with the origin department until it is completed (the 划转备忘录 rule: "在办件由原
  部门办结"), whatever happens to the routing afterwards.
* A case submitted before a cut-over and not yet accepted moves to the new authority: its intake
  is redone by the new authority's front desk, and the case records the move as an event
  (``RoutingPolicy.reroute_needed`` says when and where to).
* The approval bureau is an authority like any department. Intake and delivery stay at the
  region's service-centre windows (前台综合受理、统一窗口出件): the bureau runs the back office
  (后台分类审批) with its own reviewers. ``handling_posts`` gives the three posts for an authority.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.catalogue import Authority, Catalogue, Level, Matter
from domain.errors import DomainError, InvalidValue, MissingField
from domain.events import Recorded
from domain.staff import Actor, Assignment, Post, service_centre


class RoutingNoChange(DomainError):
    """The new authority is the one already in effect: recording it would say nothing."""

    code = "ROUTING_NO_CHANGE"


class RoutingOutOfOrder(DomainError):
    """A change effective before the last recorded one would rewrite closed history."""

    code = "ROUTING_OUT_OF_ORDER"


class RoutingCause(StrEnum):
    TRANSFER = "transfer"  # 划转至审批局
    ROLL_BACK = "roll_back"  # 试运行后回退原部门
    LIST_REMOVAL = "list_removal"  # 移出审批局事项清单，退回原部门
    ADJUSTMENT = "adjustment"  # 其他调整（法律法规或上级清单变化等）

    @property
    def label(self) -> str:
        return {
            RoutingCause.TRANSFER: "划转",
            RoutingCause.ROLL_BACK: "试运行回退",
            RoutingCause.LIST_REMOVAL: "移出清单",
            RoutingCause.ADJUSTMENT: "其他调整",
        }[self]


@dataclass(frozen=True)
class RoutingChange:
    """One recorded change: from ``effective_from`` on, ``matter_code`` is handled by ``authority``."""

    matter_code: str
    authority: Authority
    effective_from: datetime
    approved_by: str
    legal_basis: str
    reason: str
    cause: RoutingCause
    source: str
    recorded_at: datetime
    sequence: int  # order of recording within the matter: breaks ties between equal moments


@dataclass(frozen=True)
class HandlingPosts:
    """The three posts a case of an authority passes through (综合受理 → 审查审批 → 统一出件)."""

    front_desk: Assignment
    reviewer: Assignment
    output_window: Assignment


def handling_posts(authority: Authority) -> HandlingPosts:
    """The bureau model: the centre's windows take in and hand out; the competent authority reviews.

    This holds for an approval bureau too (its reviewers approve, the service centre's windows
    stay the front and output desks), so a transfer changes only who reviews.
    """
    centre = service_centre(authority.region)
    return HandlingPosts(
        front_desk=Assignment(centre, Post.FRONT_DESK.value, authority.region),
        reviewer=Assignment(authority.department, Post.REVIEWER.value, authority.region),
        output_window=Assignment(centre, Post.OUTPUT_WINDOW.value, authority.region),
    )


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidValue(f"时间「{moment.isoformat()}」必须带时区", field=field)
    return moment.astimezone(UTC)


def _authority_dict(authority: Authority) -> dict[str, str]:
    return {"department": authority.department, "level": authority.level.value, "region": authority.region}


class MatterRouting(Aggregate):
    """The routing history of one matter; its id follows from the matter code, so every process finds it."""

    class Event(Recorded):
        matter_code: str

    class Opened(Aggregate.Created, Event):
        """The stream starts from the catalogue's authority (the seed), kept for the record."""

        seed_department: str
        seed_level: str
        seed_region: str

    class AuthorityChanged(Event):
        department: str
        level: str
        region: str
        effective_from: datetime
        approved_by: str
        legal_basis: str
        reason: str
        source: str  # what caused it, e.g. "maerkang-2020/513201-FG-101"
        cause: str = RoutingCause.ADJUSTMENT.value

        def apply(self, routing: MatterRouting) -> None:
            routing.changes.append(
                RoutingChange(
                    matter_code=self.matter_code,
                    authority=Authority(self.department, Level(self.level), self.region),
                    effective_from=self.effective_from,
                    approved_by=self.approved_by,
                    legal_basis=self.legal_basis,
                    reason=self.reason,
                    cause=RoutingCause(self.cause),
                    source=self.source,
                    recorded_at=self.at,
                    sequence=len(routing.changes) + 1,
                )
            )
            routing.processed_commands.append(self.command_id)

    @staticmethod
    def create_id(matter_code: str) -> UUID:
        return routing_id(matter_code)

    @event(Opened)
    def __init__(
        self,
        matter_code: str,
        seed_department: str,
        seed_level: str,
        seed_region: str,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
    ) -> None:
        self.matter_code = matter_code
        self.seed = Authority(seed_department, Level(seed_level), seed_region)
        self.changes: list[RoutingChange] = []
        self.processed_commands: list[str] = [command_id]

    @classmethod
    def open(cls, matter: Matter, *, actor: Actor, at: datetime, command_id: str) -> MatterRouting:
        """Start the routing stream of a catalogued matter, seeded with its catalogue authority."""
        return cls(
            matter_code=matter.code,
            seed_department=matter.authority.department,
            seed_level=matter.authority.level.value,
            seed_region=matter.authority.region,
            actor=actor.to_dict(),
            at=_aware(at, "at"),
            command_id=command_id,
        )

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    @property
    def current(self) -> Authority:
        """The authority of the last recorded change (or the seed): effective now or planned."""
        return self.changes[-1].authority if self.changes else self.seed

    def check_change(self, authority: Authority, effective_from: datetime, *, approved_by: str, reason: str) -> None:
        """Every rule of ``change_authority``, without recording anything (for validators)."""
        effective_from = _aware(effective_from, "effective_from")
        for value, name, label in (
            (authority.department, "department", "实施部门"),
            (authority.region, "region", "地区"),
            (approved_by, "approved_by", "批准机关"),
            (reason, "reason", "调整原因"),
        ):
            if not value.strip():
                raise MissingField(f"变更审批权限须写明{label}", field=name)
        if self.changes and effective_from < self.changes[-1].effective_from:
            last = self.changes[-1].effective_from
            raise RoutingOutOfOrder(
                f"事项「{self.matter_code}」的审批权限已有 {last.isoformat()} 生效的调整，不能再记录更早生效的调整",
                matter_code=self.matter_code,
                field="effective_from",
            )
        if authority == self.current:
            raise RoutingNoChange(
                f"事项「{self.matter_code}」已由{authority.department}实施，无需调整",
                matter_code=self.matter_code,
                field="department",
            )

    def change_authority(
        self,
        authority: Authority,
        *,
        effective_from: datetime,
        approved_by: str,
        legal_basis: str,
        reason: str,
        cause: RoutingCause,
        source: str,
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        if self.has_processed(command_id):
            return
        self.check_change(authority, effective_from, approved_by=approved_by, reason=reason)
        self.trigger_event(
            self.AuthorityChanged,
            matter_code=self.matter_code,
            **_authority_dict(authority),
            effective_from=_aware(effective_from, "effective_from"),
            approved_by=approved_by.strip(),
            legal_basis=legal_basis.strip(),
            reason=reason.strip(),
            source=source,
            cause=cause.value,
            actor=actor.to_dict(),
            at=_aware(at, "at"),
            command_id=command_id,
        )


def routing_id(matter_code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/oneseal/routing/{matter_code}")


class RoutingPolicy:
    """Who is competent for matter M at moment T: the catalogue seed plus every recorded change.

    Pure and cheap: build it from the recorded changes (``from_routings``) or keep it current by
    ``add``-ing each change as a projection reads it; every process answers the same way.
    """

    def __init__(self, catalogue: Catalogue, changes: Iterable[RoutingChange] = ()) -> None:
        self.catalogue = catalogue
        self._changes: dict[str, list[RoutingChange]] = {}
        for change in changes:
            self.add(change)

    @classmethod
    def from_routings(cls, catalogue: Catalogue, routings: Iterable[MatterRouting]) -> RoutingPolicy:
        return cls(catalogue, (c for r in routings for c in r.changes))

    def add(self, change: RoutingChange) -> None:
        """Take in one recorded change (idempotent: the same change twice counts once)."""
        self.catalogue.get(change.matter_code)
        changes = self._changes.setdefault(change.matter_code, [])
        if any(c.sequence == change.sequence for c in changes):
            return
        changes.append(change)
        changes.sort(key=lambda c: (c.effective_from, c.sequence))

    def history(self, code: str) -> list[RoutingChange]:
        self.catalogue.get(code)
        return list(self._changes.get(code, []))

    def competent_authority(self, code: str, at: datetime) -> Authority:
        """The only routing rule: the last change effective at ``at`` wins, else the catalogue's authority."""
        matter = self.catalogue.get(code)
        at = _aware(at, "at")
        changes = self._changes.get(code, [])
        i = bisect_right([c.effective_from for c in changes], at)
        return changes[i - 1].authority if i else matter.authority

    def changes_between(self, code: str, t0: datetime, t1: datetime) -> list[RoutingChange]:
        """Changes that took effect after ``t0`` and at or before ``t1`` (``t0 < effective_from <= t1``)."""
        self.catalogue.get(code)
        t0, t1 = _aware(t0, "t0"), _aware(t1, "t1")
        return [c for c in self._changes.get(code, []) if t0 < c.effective_from <= t1]

    def reroute_needed(
        self,
        *,
        matter_code: str,
        submitted_at: datetime,
        accepted_at: datetime | None,
        now: datetime,
        routed_to: Authority | None = None,
    ) -> Authority | None:
        """Where an open case must move now, or ``None`` when it stays.

        ``routed_to`` is the authority the case currently sits with (default: the one competent when
        it was submitted), so asking again after the move answers ``None``. An accepted case never
        moves: the authority valid at acceptance handles it to its end. Ask only for open cases.
        """
        if accepted_at is not None:
            return None
        current = routed_to or self.competent_authority(matter_code, submitted_at)
        target = self.competent_authority(matter_code, now)
        return None if target == current else target
