"""What every recorded business fact carries, whatever process it belongs to.

Each aggregate's ``Event`` base inherits from ``Recorded``, so every event of every process has
``actor`` (who did it, as ``Actor.to_dict()``), ``at`` (business time, UTC: the workflow's clock,
not the wall clock of whichever machine saved it) and ``command_id`` (the idempotency key: a
retried command is recognised and records nothing). Events are explicit classes whose ``apply``
changes the aggregate; command methods check the rules and then trigger them.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate


class Recorded(Aggregate.Event):
    actor: dict[str, str]
    at: datetime
    command_id: str
