"""Durable routing and staff posts for every process: ``boot.routing``.

Reads answer from the STORED ``MatterRouting`` / ``StaffMember`` streams of the one store
(``domain.recorded``), so the worker, the projector, the CLI and the HTTP API agree at once after
a change by any of them, without a restart; each read costs one indexed read of one stream while
nothing changed. The catalogue CSV and ``staff.csv`` only seed them. The writers are for admins
and tests; a transfer programme's commands write the same aggregates in their own saves.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from domain.catalogue import Authority, Level
from domain.errors import UnknownActor
from domain.routing import HandlingPosts, MatterRouting, RoutingCause, RoutingChange, handling_posts
from domain.staff import Actor
from domain.staffing import StaffMember, StaffRoster

if TYPE_CHECKING:
    from services.bootstrap import Bootstrap


def _now() -> datetime:
    return datetime.now(UTC)


class RoutingService:
    def __init__(self, boot: Bootstrap) -> None:
        self.boot = boot

    # ---- reads --------------------------------------------------------------------------------

    def competent_authority(self, code: str, at: datetime | None = None) -> Authority:
        """Who is competent for the matter at ``at`` (default now), from the stored changes."""
        return self.boot.store.routing.competent_authority(code, at or _now())

    def posts(self, code: str, at: datetime | None = None) -> HandlingPosts:
        """The front desk, reviewer and output window a case of the matter passes through at ``at``."""
        return handling_posts(self.competent_authority(code, at))

    def history(self, code: str) -> list[RoutingChange]:
        """Every recorded change of the matter's authority, in force order."""
        return self.boot.store.routing.history(code)

    def actor(self, user_id: str) -> Actor:
        """The post this person holds now (after any recorded move)."""
        return self.boot.store.staff.get(user_id)

    def current(self, actor: Actor) -> Actor:
        """``actor`` in the post they hold now (channel kept); someone not in the directory stays as given."""
        if actor.user_id == "system":
            return actor
        try:
            return replace(self.actor(actor.user_id), via=actor.via)
        except UnknownActor:
            return actor

    def roster(self) -> StaffRoster:
        """Everyone's post now: ``staff.csv`` overlaid with every recorded enrolment and move."""
        return self.boot.store.staff.roster()

    # ---- writes (admins, tests; the transfer's commands write the same aggregates) -------------

    def change_authority(
        self,
        code: str,
        *,
        department: str,
        effective_from: datetime,
        approved_by: str,
        legal_basis: str,
        reason: str,
        actor: Actor,
        level: Level | None = None,
        region: str | None = None,
        cause: RoutingCause = RoutingCause.ADJUSTMENT,
        source: str = "admin",
        at: datetime | None = None,
        command_id: str | None = None,
    ) -> MatterRouting:
        """Record that from ``effective_from`` on ``department`` is competent for the matter (level and
        region default to the catalogue's)."""
        store = self.boot.store
        seed = store.catalogue.get(code).authority
        authority = Authority(department, level or seed.level, region or seed.region)
        out = store.routing.change_authority(
            code, authority, effective_from=effective_from, approved_by=approved_by, legal_basis=legal_basis,
            reason=reason, cause=cause, source=source, actor=actor, at=at or _now(),
            command_id=command_id or f"routing/{code}/{uuid.uuid4()}",
        )  # fmt: skip
        return out.aggregate

    def reassign(
        self,
        user_id: str,
        *,
        department: str,
        post: str,
        reason: str,
        actor: Actor,
        region: str | None = None,
        source: str = "admin",
        at: datetime | None = None,
        command_id: str | None = None,
    ) -> StaffMember:
        """Move a person to another unit and/or post (region defaults to theirs): worklists follow."""
        staff = self.boot.store.staff
        out = staff.reassign(
            user_id, department=department, post=post, region=region or staff.get(user_id).region, reason=reason,
            source=source, actor=actor, at=at or _now(), command_id=command_id or f"staff/{user_id}/{uuid.uuid4()}",
        )  # fmt: skip
        return out.aggregate

    def enrol(
        self, person: Actor, *, actor: Actor, source: str = "admin", at: datetime | None = None,
        command_id: str | None = None,
    ) -> StaffMember:  # fmt: skip
        """Record a colleague who is not in ``staff.csv`` (e.g. the bureau's own reviewers)."""
        out = self.boot.store.staff.enrol(
            person,
            source=source,
            actor=actor,
            at=at or _now(),
            command_id=command_id or f"staff/{person.user_id}/enrol",
        )
        return out.aggregate
