"""One tested decoder from stored notifications to the events a projection handles.

Topics come from the event classes themselves (``get_topic``), and old topics resolve through the
domain's registered aliases, so a renamed module or event can never be silently skipped: a topic
that resolves to nothing, or an event of an aggregate the projection follows that has no handler,
is an error that stops the projection (and rolls its batch back). Events of aggregates the
projection does not follow (another process's facts in the same store) are passed over.

The hot path reads the stored JSON with orjson and never builds domain objects.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.utils import TopicError, get_topic, resolve_topic

_UNSEEN = object()


class UnknownEventTopic(RuntimeError):
    """A stored event this projection cannot read: it stops rather than skip a fact."""

    code = "PROJECTION_UNKNOWN_EVENT"


@dataclass(frozen=True)
class StoredEvent:
    """What a projection needs of one notification: position, class, aggregate, version and state."""

    notification_id: int
    type: type[Any]
    aggregate_id: str
    version: int
    state: dict[str, Any]


class EventDecoder:
    def __init__(self, follows: Collection[type[Aggregate]], handled: Collection[type[Any]]) -> None:
        self.follows = tuple(follows)
        self.handled = frozenset(handled)
        self._by_topic: dict[str, type[Any] | None] = {get_topic(cls): cls for cls in self.handled}

    def event_type(self, topic: str) -> type[Any] | None:
        """The handled event class of ``topic``; ``None`` for an aggregate not followed; raises otherwise."""
        found = self._by_topic.get(topic, _UNSEEN)
        if found is _UNSEEN:
            found = self._by_topic[topic] = self._resolve(topic)
        return found  # type: ignore[return-value]

    def decode(self, notification: Any) -> StoredEvent | None:
        cls = self.event_type(notification.topic)
        if cls is None:
            return None
        return StoredEvent(
            notification.id,
            cls,
            notification.originator_id.hex,
            notification.originator_version,
            orjson.loads(notification.state),
        )

    def _resolve(self, topic: str) -> type[Any] | None:
        try:
            cls = resolve_topic(topic)
        except TopicError:
            raise UnknownEventTopic(f"事件库中有无法识别的事件类型「{topic}」：投影已停止，请检查版本") from None
        if cls in self.handled:
            return cls  # type: ignore[no-any-return]
        owner_topic = topic.rsplit(".", 1)[0] if "." in topic.partition(":")[2] else ""
        try:
            owner = resolve_topic(owner_topic) if owner_topic else None
        except TopicError:
            owner = None
        if isinstance(owner, type) and issubclass(owner, self.follows):
            raise UnknownEventTopic(f"投影不知道如何处理事件「{topic}」：投影已停止，请补上处理程序")
        return None

    def missing_handlers(self) -> list[str]:
        """Event classes of the followed aggregates that have no handler (a test keeps this empty)."""
        missing = []
        for agg in self.follows:
            for name in dir(agg):
                cls = getattr(agg, name)
                label = getattr(cls, "LABEL", None)
                if isinstance(cls, type) and issubclass(cls, Aggregate.Event) and label and cls not in self.handled:
                    missing.append(get_topic(cls))
        return sorted(set(missing))
