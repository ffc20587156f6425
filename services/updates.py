"""Sending one Temporal Update so that the server's own 30-second cut is not taken for a failure.

The server ends every call of an Update after 30 s, whatever the client asks for. It normally answers
"admitted, not yet accepted" after 20 s so that the SDK asks again, but a busy server (a worker just
killed, its workflows' tasks timing out at once) can miss that, and the call ends with DEADLINE_EXCEEDED,
which the SDK raises as ``WorkflowUpdateRPCTimeoutOrCancelledError``. The Update itself is not lost: asked
again under the same Update id, the server applies it once (tests/faults/test_update_cut_by_server.py)."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from temporalio.client import WorkflowHandle, WorkflowUpdateRPCTimeoutOrCancelledError

R = TypeVar("R")

# How long a step keeps asking: as long as a submission waits for its registration (services.cases), longer
# than a command lost with a killed worker takes to be retried (docs/operations.md).
UPDATE_PATIENCE = 90.0


def cut_by_server(e: WorkflowUpdateRPCTimeoutOrCancelledError) -> bool:
    """Did the server end this call at its own deadline? (Our own wait running out, or the caller
    cancelled, raise the same error from a CancelledError.)"""
    from temporalio.service import RPCError, RPCStatusCode

    cause = e.__cause__
    return isinstance(cause, RPCError) and cause.status is RPCStatusCode.DEADLINE_EXCEEDED


async def execute_update(
    handle: WorkflowHandle[Any, Any], name: str, arg: Any, *, result_type: type[R], patience: float
) -> R:
    """``handle.execute_update``, asked again under the same id while the server cuts the call short, for
    at most ``patience`` seconds; any other error (and the last cut) is the caller's to map."""
    from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

    update_id = str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    until = loop.time() + patience
    while True:
        try:
            return await handle.execute_update(name, arg, id=update_id, result_type=result_type)
        except WorkflowUpdateRPCTimeoutOrCancelledError as e:
            if not cut_by_server(e) or loop.time() >= until:
                raise
