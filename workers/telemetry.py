"""The worker's activity metrics: every attempt counted by outcome, retries counted, durations observed
(the series are defined in services/metrics.py; docs/operations.md lists them)."""

from __future__ import annotations

import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from services.metrics import ACTIVITIES, ACTIVITY_RETRIES, ACTIVITY_SECONDS


class ActivityMetrics(Interceptor):
    """Worker interceptor: every activity attempt counted by outcome, retries counted, durations observed."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityMetricsInbound(next)


class _ActivityMetricsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        name = info.activity_type
        if info.attempt > 1:
            ACTIVITY_RETRIES.labels(name).inc()
        started = time.perf_counter()
        outcome = "failed"
        try:
            result = await self.next.execute_activity(input)
            outcome = "completed"
            return result
        except ApplicationError as e:
            outcome = "refused" if e.non_retryable else "failed"
            raise
        finally:
            ACTIVITIES.labels(name, outcome).inc()
            ACTIVITY_SECONDS.labels(name).observe(time.perf_counter() - started)
