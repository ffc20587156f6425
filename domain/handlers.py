"""The one way a command is executed on one aggregate: idempotent and safe under concurrency.

Every process's command handlers use ``execute``: load the aggregate; if it already processed this
``command_id`` (a retried Temporal activity), answer from it without recording anything; otherwise
run the command and save; on an optimistic-concurrency conflict (another writer got there first)
reload and try again. Together these make each event recorded exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from domain.errors import DomainError

MAX_CONFLICT_RETRIES = 10


class Idempotent(Protocol):
    """An aggregate that remembers the command ids it processed."""

    version: int

    def has_processed(self, command_id: str) -> bool: ...


A = TypeVar("A", bound=Idempotent)


@dataclass(frozen=True)
class Outcome(Generic[A]):
    """The aggregate after the command, whether this call recorded anything, and the notification id of
    the last event it recorded (callers wait for the read models to pass it: read-your-writes)."""

    aggregate: A
    recorded: bool
    notification_id: int | None


class CommandConflict(DomainError):
    code = "COMMAND_CONFLICT"


def execute(
    app: Application[Any],
    aggregate_id: UUID,
    command_id: str,
    act: Callable[[A], None],
    *,
    missing: Callable[[], DomainError],
    create: Callable[[], A] | None = None,
    also_save: Callable[[A], list[Any]] | None = None,
) -> Outcome[A]:
    """Run ``act`` on the aggregate (or ``create`` it when it does not exist yet), exactly once.

    ``missing`` builds the error for an aggregate that does not exist and may not be created here;
    ``also_save`` names other aggregates to save in the same transaction (e.g. a wind-back step)."""
    for _ in range(MAX_CONFLICT_RETRIES):
        try:
            agg: A = app.repository.get(aggregate_id)
        except AggregateNotFoundError:
            if create is None:
                raise missing() from None
            agg = create()
            if not getattr(agg, "pending_events", None):
                return Outcome(agg, False, None)
        else:
            if agg.has_processed(command_id):
                return Outcome(agg, False, None)
            act(agg)
        others = also_save(agg) if also_save else []
        try:
            recordings = app.save(agg, *others)  # type: ignore[arg-type]
        except IntegrityError:
            continue
        return Outcome(agg, bool(recordings), recordings[-1].notification.id if recordings else None)
    raise CommandConflict("并发修改过多，请稍后重试", aggregate_id=str(aggregate_id))
