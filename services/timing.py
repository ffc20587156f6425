"""``timed_step``: the service layer times each staff step it sends to Temporal (``oneseal_step_seconds``).

Apart from ``services.metrics`` so that importing a service (every CLI call that only reads cases does)
does not import prometheus_client: the histogram is reached when a timed step finishes."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


def timed_step(
    step_of: Callable[..., str],
) -> Callable[[Callable[P, Coroutine[Any, Any, R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Time a service call that sends one Update (``step_of`` names the step from the call's arguments)."""

    def decorate(fn: Callable[P, Coroutine[Any, Any, R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @functools.wraps(fn)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            error: BaseException | None = None
            try:
                return await fn(*args, **kwargs)
            except BaseException as e:
                error = e
                raise
            finally:
                from services.metrics import STEP_SECONDS, outcome_of

                try:
                    step = step_of(*args, **kwargs)
                except Exception:
                    step = "unknown"
                STEP_SECONDS.labels(step, outcome_of(error)).observe(time.perf_counter() - started)

        return timed

    return decorate
