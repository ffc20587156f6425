"""Staff assignments as recorded data: who holds which post in which unit, changed by events.

``staff.csv`` seeds the directory. A person's move (人随事走: personnel who move with a
transferred licensing item, and back again on a roll-back) is a ``Reassigned`` event on that
person's ``StaffMember`` aggregate, so every process sees the same post and worklists follow.
``StaffRoster`` folds seed and events into the same query API as ``StaffDirectory``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError, InvalidValue, MissingField
from domain.events import Recorded
from domain.staff import Actor, Post, StaffDirectory

STAFF_POSTS = (Post.FRONT_DESK, Post.REVIEWER, Post.OUTPUT_WINDOW)


class StaffNoChange(DomainError):
    """A reassignment to the post the person already holds."""

    code = "STAFF_NO_CHANGE"


@dataclass(frozen=True)
class PostHeld:
    """One stretch of a person's career in the record: unit and post from ``since`` on."""

    department: str
    post: str
    region: str
    since: datetime
    reason: str
    source: str


def _check_post(department: str, post: str, region: str) -> None:
    if not department.strip():
        raise MissingField("须写明所在单位", field="department")
    if not region.strip():
        raise MissingField("须写明所在地区", field="region")
    if post not in {p.value for p in STAFF_POSTS}:
        allowed = "、".join(f"{p.value}（{p.label}）" for p in STAFF_POSTS)
        raise InvalidValue(f"岗位「{post}」无效，应为 {allowed} 之一", field="post")


class StaffMember(Aggregate):
    """One person's posts over time; id from the user id, so a move is found by every process."""

    class Event(Recorded):
        user_id: str

    class Enrolled(Aggregate.Created, Event):
        name: str
        department: str
        post: str
        region: str
        source: str = "seed"  # "seed" when taken over from staff.csv, else what enrolled them

    class Reassigned(Event):
        from_department: str
        from_post: str
        from_region: str
        to_department: str
        to_post: str
        to_region: str
        reason: str
        source: str  # what caused the move, e.g. "maerkang-2020/513201-FG-101"

        def apply(self, member: StaffMember) -> None:
            member.department, member.post, member.region = self.to_department, self.to_post, self.to_region
            member.posts.append(
                PostHeld(self.to_department, self.to_post, self.to_region, self.at, self.reason, self.source)
            )
            member.processed_commands.append(self.command_id)

    @staticmethod
    def create_id(user_id: str) -> UUID:
        return staff_member_id(user_id)

    @event(Enrolled)
    def __init__(
        self,
        user_id: str,
        name: str,
        department: str,
        post: str,
        region: str,
        actor: dict[str, str],
        at: datetime,
        command_id: str,
        source: str = "seed",
    ) -> None:
        self.user_id, self.name = user_id, name
        self.department, self.post, self.region = department, post, region
        self.posts: list[PostHeld] = [PostHeld(department, post, region, at, "入职登记", source)]
        self.processed_commands: list[str] = [command_id]

    @classmethod
    def enrol(cls, person: Actor, *, source: str, actor: Actor, at: datetime, command_id: str) -> StaffMember:
        """Start a person's record: from the seed file (``source="seed"``) before their first move, or new staff."""
        if not person.user_id.strip():
            raise MissingField("缺少工作人员编号", field="user_id")
        if not person.name.strip():
            raise MissingField("缺少工作人员姓名", field="name")
        _check_post(person.department, person.post, person.region)
        return cls(
            user_id=person.user_id,
            name=person.name,
            department=person.department,
            post=person.post,
            region=person.region,
            source=source,
            actor=actor.to_dict(),
            at=at.astimezone(UTC),
            command_id=command_id,
        )

    def has_processed(self, command_id: str) -> bool:
        return command_id in self.processed_commands

    def as_actor(self) -> Actor:
        return Actor(self.user_id, self.name, self.department, self.post, self.region)

    def check_reassign(self, *, department: str, post: str, region: str, reason: str) -> None:
        _check_post(department, post, region)
        if not reason.strip():
            raise MissingField("调整岗位须写明原因", field="reason")
        if (department, post, region) == (self.department, self.post, self.region):
            raise StaffNoChange(
                f"{self.name}已在{department}·{Post(post).label}，无需调整", user_id=self.user_id, field="department"
            )

    def reassign(
        self,
        *,
        department: str,
        post: str,
        region: str,
        reason: str,
        source: str,
        actor: Actor,
        at: datetime,
        command_id: str,
    ) -> None:
        """Move the person to another unit and/or post; their worklist follows the new post."""
        if self.has_processed(command_id):
            return
        self.check_reassign(department=department, post=post, region=region, reason=reason)
        self.trigger_event(
            self.Reassigned,
            user_id=self.user_id,
            from_department=self.department,
            from_post=self.post,
            from_region=self.region,
            to_department=department,
            to_post=post,
            to_region=region,
            reason=reason.strip(),
            source=source,
            actor=actor.to_dict(),
            at=at.astimezone(UTC),
            command_id=command_id,
        )


def staff_member_id(user_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/oneseal/staff/{user_id}")


class StaffRoster(StaffDirectory):
    """The staff directory as of now: the seed file overlaid with every recorded enrolment and move."""

    @classmethod
    def build(cls, seed: StaffDirectory, members: Iterable[StaffMember] = ()) -> StaffRoster:
        actors = {a.user_id: a for a in seed.all()}
        for member in members:
            actors[member.user_id] = member.as_actor()
        return cls(actors)

    def with_actor(self, actor: Actor) -> StaffRoster:
        """A copy with one person's current post replaced (as a projection reads each event)."""
        actors = {a.user_id: a for a in self.all()}
        actors[actor.user_id] = actor
        return StaffRoster(actors)

    def holders(self, department: str, post: str, region: str) -> list[Actor]:
        """Everyone who holds a post: the people whose worklist shows its tasks."""
        return [a for a in self.all() if (a.department, a.post, a.region) == (department, post, region)]

    def departments(self, region: str | None = None) -> set[str]:
        return {a.department for a in self.all() if region is None or a.region == region}
