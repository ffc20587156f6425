"""Waiting for a workflow to register what it was started for (a case, a project), read from the store.

Read from the event store, not asked of the workflow: a query needs a worker (without one it fails after
30 s), and this is what a submission waits on while a killed worker is being restarted. The store holds
the registration once the workflow's first command is saved; if the workflow ended instead, its failure
is the domain's refusal."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from temporalio.client import WorkflowFailureError, WorkflowHandle
    from temporalio.service import RPCError

V = TypeVar("V")

POLL = 0.2  # seconds between two reads of the store


async def wait_registered(
    handle: WorkflowHandle[Any, Any],
    registered: Callable[[], V | None],
    *,
    absent: type[Exception],
    wait: float,
    refused: Callable[[WorkflowFailureError], Exception],
    timed_out: Callable[[], Exception],
    unreachable: Callable[[RPCError], Exception],
    not_started_yet: bool = False,
) -> V:
    """``registered()`` once it returns something (``absent``: what it raises while the store has nothing);
    ``refused(e)`` if the workflow failed first; ``timed_out()`` after ``wait`` seconds; ``unreachable(e)``
    when Temporal cannot say. With ``not_started_yet`` a workflow not found is waited for (a start the
    caller cannot see yet)."""
    from temporalio.client import WorkflowFailureError
    from temporalio.service import RPCError, RPCStatusCode

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        with contextlib.suppress(absent):
            if (found := registered()) is not None:
                return found
        try:
            desc = await handle.describe()
        except RPCError as e:
            if not (not_started_yet and e.status is RPCStatusCode.NOT_FOUND):
                raise unreachable(e) from None
            desc = None
        if desc is not None and desc.status is not None and desc.status.name != "RUNNING":
            try:
                await handle.result()
            except WorkflowFailureError as e:
                raise refused(e) from None
        if loop.time() > deadline:
            raise timed_out()
        await asyncio.sleep(POLL)
