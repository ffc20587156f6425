"""Routing and staff posts as every process reads them: from the STORED aggregates, never from memory.

``MatterRouting`` (one stream per matter) and ``StaffMember`` (one stream per person) live in the
one store beside the cases. Every process (worker, projector, CLI, the HTTP API) answers "who is
competent for matter M at T" and "which post does this person hold" from them, so a cut-over,
roll-back or move recorded by any process is seen by all of them at their next read, without a
restart. Each answer costs one indexed read of the stream's newest event (its version): a process
keeps the folded stream in a cache only while that version is unchanged, exactly as the calendar
book is read (``CaseApplication.calendar``). The catalogue CSV and ``staff.csv`` only seed the
state before a stream's first event.

The writers here (``change_authority``, ``enrol``, ``reassign``) go through
``domain.handlers.execute`` like every command (exactly once under a caller-chosen ``command_id``);
the transfer's own commands save the same aggregates in the same transaction as their item events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.utils import get_topic

from domain.catalogue import Authority, Catalogue
from domain.errors import UnknownActor
from domain.handlers import Outcome, execute
from domain.routing import MatterRouting, RoutingCause, RoutingChange, RoutingPolicy, routing_id
from domain.staff import Actor, StaffDirectory
from domain.staffing import StaffMember, StaffRoster, staff_member_id

TRANSFER_SOURCE_PREFIX = "transfer:"  # RoutingChange.source of a transfer programme's change: "transfer:<programme>"


def _newest_version(app: Application[Any], aggregate_id: UUID) -> int:
    newest = app.recorder.select_events(aggregate_id, desc=True, limit=1)
    return newest[0].originator_version if newest else 0


class RecordedRouting:
    """Who is competent for a matter at a moment: the catalogue seed plus the matter's stored changes."""

    def __init__(self, app: Application[Any], catalogue: Catalogue) -> None:
        self.app = app
        self.catalogue = catalogue
        self._cache: dict[str, tuple[int, RoutingPolicy]] = {}
        self._routed: set[str] = set()  # matters with a routing stream, from the notification log
        self._position = 0
        self._topics = [get_topic(MatterRouting.Opened), get_topic(MatterRouting.AuthorityChanged)]

    def routed_codes(self) -> set[str]:
        """The matters whose routing has a recorded stream (reads only what was recorded since the last call)."""
        while True:
            batch = self.app.recorder.select_notifications(start=self._position + 1, limit=500, topics=self._topics)
            if not batch:
                return set(self._routed)
            for n in batch:
                self._routed.add(self.app.mapper.to_domain_event(n).matter_code)  # type: ignore[attr-defined]
            self._position = batch[-1].id

    def policy(self, code: str) -> RoutingPolicy:
        """The routing policy of one matter as stored now (one indexed read while nothing changed)."""
        self.catalogue.get(code)
        rid = routing_id(code)
        version = _newest_version(self.app, rid)
        cached = self._cache.get(code)
        if cached is not None and cached[0] == version:
            return cached[1]
        changes: list[RoutingChange] = []
        if version:
            routing: MatterRouting = self.app.repository.get(rid, version=version)
            changes = list(routing.changes)
        policy = RoutingPolicy(self.catalogue, changes)
        self._cache[code] = (version, policy)
        return policy

    def competent_authority(self, code: str, at: datetime) -> Authority:
        return self.policy(code).competent_authority(code, at)

    def history(self, code: str) -> list[RoutingChange]:
        return self.policy(code).history(code)

    def change_in_effect(self, code: str, at: datetime) -> RoutingChange | None:
        """The recorded change that decides the authority at ``at`` (None: the catalogue's seed does)."""
        effective = [c for c in self.history(code) if c.effective_from <= at]
        return effective[-1] if effective else None

    def transfer_programme(self, code: str) -> str | None:
        """The programme of the matter's latest transfer-programme change (``source`` "transfer:<programme>")."""
        for change in reversed(self.history(code)):
            if change.source.startswith(TRANSFER_SOURCE_PREFIX):
                return change.source.removeprefix(TRANSFER_SOURCE_PREFIX)
        return None

    def change_authority(
        self,
        code: str,
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
    ) -> Outcome[MatterRouting]:
        """Record one change of the matter's competent authority (the stream opens from the catalogue seed)."""
        matter = self.catalogue.get(code)

        def act(routing: MatterRouting) -> None:
            routing.change_authority(
                authority,
                effective_from=effective_from,
                approved_by=approved_by,
                legal_basis=legal_basis,
                reason=reason,
                cause=cause,
                source=source,
                actor=actor,
                at=at,
                command_id=command_id,
            )

        def create() -> MatterRouting:
            routing = MatterRouting.open(matter, actor=actor, at=at, command_id=f"{command_id}/open")
            act(routing)
            return routing

        return execute(self.app, routing_id(code), command_id, act, missing=lambda: UnknownActor(""), create=create)


class RecordedStaff(StaffDirectory):
    """The staff directory as stored now: ``staff.csv`` overlaid with every enrolment and move.

    ``get`` (the post one person acts in, asked on every command and every worklist) reads that
    person's stream only; ``all`` and ``roster`` take in the enrolments and moves recorded since
    the last call from the notification log."""

    def __init__(self, app: Application[Any], seed: StaffDirectory) -> None:
        super().__init__({a.user_id: a for a in seed.all()})
        self.app = app
        self.seed = seed
        self._cache: dict[str, tuple[int, Actor]] = {}
        self._recorded: set[str] = set()  # user ids with a stream, from the notification log
        self._position = 0
        self._topics = [get_topic(StaffMember.Enrolled), get_topic(StaffMember.Reassigned)]

    def get(self, user_id: str) -> Actor:
        version = _newest_version(self.app, staff_member_id(user_id))
        if not version:
            return self.seed.get(user_id)
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        member: StaffMember = self.app.repository.get(staff_member_id(user_id), version=version)
        actor = member.as_actor()
        self._cache[user_id] = (version, actor)
        return actor

    def member(self, user_id: str) -> StaffMember | None:
        """The person's stored record (posts over time), or None before their first recorded event."""
        if not _newest_version(self.app, staff_member_id(user_id)):
            return None
        found: StaffMember = self.app.repository.get(staff_member_id(user_id))
        return found

    def all(self) -> list[Actor]:
        self._catch_up()
        actors = {a.user_id: a for a in self.seed.all()}
        for user_id in sorted(self._recorded):
            actors[user_id] = self.get(user_id)
        return list(actors.values())

    def roster(self) -> StaffRoster:
        return StaffRoster({a.user_id: a for a in self.all()})

    def holders(self, department: str, post: str, region: str) -> list[Actor]:
        return self.roster().holders(department, post, region)

    def _catch_up(self) -> None:
        while True:
            batch = self.app.recorder.select_notifications(start=self._position + 1, limit=500, topics=self._topics)
            if not batch:
                return
            for n in batch:
                self._recorded.add(self.app.mapper.to_domain_event(n).user_id)  # type: ignore[attr-defined]
            self._position = batch[-1].id

    # ---- writers ------------------------------------------------------------------------------

    def enrol(self, person: Actor, *, source: str, actor: Actor, at: datetime, command_id: str) -> Outcome[StaffMember]:
        """Start a person's stored record (a new colleague, e.g. the bureau's own reviewers)."""

        def create() -> StaffMember:
            return StaffMember.enrol(person, source=source, actor=actor, at=at, command_id=command_id)

        def already(_: StaffMember) -> None:
            return None  # enrolled before: the record stands, moves go through ``reassign``

        return execute(self.app, staff_member_id(person.user_id), command_id, already, missing=lambda: UnknownActor(""),
                       create=create)  # fmt: skip

    def reassign(
        self,
        user_id: str,
        *,
        department: str,
        post: str,
        region: str,
        reason: str,
        source: str,
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> Outcome[StaffMember]:
        """Move a person to another unit and/or post; their worklist and rights follow at once."""

        def act(member: StaffMember) -> None:
            member.reassign(department=department, post=post, region=region, reason=reason, source=source,
                            actor=actor, at=at, command_id=command_id)  # fmt: skip

        def create() -> StaffMember:
            member = StaffMember.enrol(self.seed.get(user_id), source="seed", actor=actor, at=at,
                                       command_id=f"{command_id}/enrol")  # fmt: skip
            act(member)
            return member

        missing = UnknownActor(f"未找到工作人员「{user_id}」", user_id=user_id)
        return execute(self.app, staff_member_id(user_id), command_id, act, missing=lambda: missing, create=create)
