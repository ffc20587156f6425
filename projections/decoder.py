"""One tested decoder from stored notifications to the events a projection handles.

Topics come from the event classes themselves (``get_topic``), and old topics resolve through the
domain's registered aliases, so a renamed module or event can never be silently skipped: a topic
that resolves to nothing, or an event of an aggregate the projection follows that has no handler,
is an error that stops the projection (and rolls its batch back). Events of aggregates the
projection does not follow (another process's facts in the same store) are passed over.

The hot path reads the stored rows with one SQL query per batch (``read_stored``: no library
``Notification`` objects, no UUID objects), parses the stored JSON with orjson and never builds
domain objects.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from types import SimpleNamespace
from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.domain import Aggregate
from eventsourcing.utils import TopicError, get_topic, resolve_topic

_UNSEEN = object()


class UnknownEventTopic(RuntimeError):
    """A stored event this projection cannot read: it stops rather than skip a fact."""

    code = "PROJECTION_UNKNOWN_EVENT"


class StoredEvent(NamedTuple):
    """What a projection needs of one notification: position, class, aggregate, version and state."""

    notification_id: int
    type: type[Any]
    aggregate_id: str
    version: int
    state: dict[str, Any]


# One stored event as read by ``read_stored``: (notification id, aggregate id as 32 hex digits,
# version, topic, stored state).
StoredRow = tuple[int, str, int, str, bytes]


def read_stored(recorder: Any, start: int, limit: int) -> list[StoredRow]:
    """The stored events after notification ``start`` (at most ``limit``), in notification order,
    with one SQL query on the store's own connection: what ``select_notifications`` returns, without
    building a ``Notification`` and a ``UUID`` per event. Other recorders (in memory) go through
    ``select_notifications``."""
    kind = type(recorder).__module__
    if kind == "eventsourcing.sqlite":
        sql = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
            "WHERE rowid>? ORDER BY rowid LIMIT ?"
        )
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(sql, (start, limit))
            rows = c.fetchall()
        return [(r[0], r[1] if len(r[1]) == 32 else UUID(r[1]).hex, r[2], r[3], r[4]) for r in rows]
    if kind == "eventsourcing.postgres":
        from psycopg.rows import tuple_row
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id>%s ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, (start, limit), prepare=True)
            return [(r[0], r[1].hex, r[2], r[3], r[4]) for r in curs.fetchall()]
    return [
        (n.id, n.originator_id.hex, n.originator_version, n.topic, n.state)
        for n in recorder.select_notifications(start=start, limit=limit, inclusive_of_start=False)
    ]


def shard_of(aggregate_id: str, shards: int) -> int:
    """The shard of an aggregate (its id as hex digits, with or without dashes): its last hex digit's."""
    return int(aggregate_id[-1], 16) % shards


def read_shard(recorder: Any, after: int, upto: int, shard: int, shards: int) -> list[StoredRow]:
    """The stored events after notification ``after`` up to ``upto`` (inclusive) of the aggregates in
    ``shard`` of ``shards`` (``shard_of``), in notification order: the other shards' rows are passed over
    by the database, not turned into Python objects."""
    digits = tuple(d for d in "0123456789abcdef" if int(d, 16) % shards == shard)
    kind = type(recorder).__module__
    if kind == "eventsourcing.sqlite":
        sql = (
            f"SELECT rowid, originator_id, originator_version, topic, state FROM {recorder.events_table_name} "
            f"WHERE rowid>? AND rowid<=? AND lower(substr(originator_id, -1)) IN ({', '.join('?' * len(digits))}) "
            "ORDER BY rowid"
        )
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(sql, (after, upto, *digits))
            rows = c.fetchall()
        return [(r[0], r[1] if len(r[1]) == 32 else UUID(r[1]).hex, r[2], r[3], r[4]) for r in rows]
    if kind == "eventsourcing.postgres":
        from psycopg.rows import tuple_row
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id>%s AND notification_id<=%s AND right(originator_id::text, 1) = ANY(%s) "
            "ORDER BY notification_id"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, (after, upto, list(digits)), prepare=True)
            return [(r[0], r[1].hex, r[2], r[3], r[4]) for r in curs.fetchall()]
    rows = read_stored(recorder, after, upto - after)
    return [r for r in rows if r[0] <= upto and shard_of(r[1], shards) == shard]


def as_notification(row: StoredRow) -> Any:
    """A stored row in the shape of the library's ``Notification`` (for a projection without ``decode_rows``)."""
    return SimpleNamespace(
        id=row[0], originator_id=UUID(hex=row[1]), originator_version=row[2], topic=row[3], state=row[4]
    )


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

    def decode_rows(self, rows: Sequence[StoredRow]) -> list[StoredEvent]:
        """The handled events of a batch of stored rows, in order (the batch's hot path)."""
        types = self._by_topic
        out: list[StoredEvent] = []
        append = out.append
        loads = orjson.loads
        for nid, aggregate_id, version, topic, state in rows:
            cls = types.get(topic, _UNSEEN)
            if cls is _UNSEEN:
                cls = self.event_type(topic)
            if cls is not None:
                append(StoredEvent(nid, cls, aggregate_id, version, loads(state)))  # type: ignore[arg-type]
        return out

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
