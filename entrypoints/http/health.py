"""/healthz, /readyz and /metrics for the web app (and for any process that serves HTTP).

Mount with ``app.include_router(health.router)``; the app keeps its ``Bootstrap`` in
``app.state.boot`` (the web app's convention). The routes need no sign-in: a load balancer, the
compose healthcheck and Prometheus call them.

- ``GET /healthz``: 200 while the process answers (it checks nothing outside itself).
- ``GET /readyz``: 200 when Temporal and the event store answer and the read models lag by less
  than the thresholds (``ONESEAL_READY_MAX_LAG_EVENTS``, ``ONESEAL_READY_MAX_LAG_SECONDS``; the query
  parameters ``max_lag_events`` and ``max_lag_seconds`` override them), else 503; the body says which
  check failed, with its stable code and a Chinese message.
- ``GET /metrics``: Prometheus exposition (services/metrics.py).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from services import health, metrics
from services.bootstrap import Bootstrap

router = APIRouter(tags=["运维 operations"])


def _boot(request: Request) -> Bootstrap:
    boot = getattr(request.app.state, "boot", None)
    if boot is None:
        boot = request.app.state.boot = Bootstrap()
    return boot  # type: ignore[no-any-return]


@router.get("/healthz", summary="存活检查（进程在运行）")
async def healthz() -> dict[str, Any]:
    return health.alive()


@router.get("/readyz", summary="就绪检查（Temporal、事件库可达，读模型滞后在阈值内）")
async def readyz(
    request: Request,
    max_lag_events: Annotated[int | None, Query(ge=0)] = None,
    max_lag_seconds: Annotated[float | None, Query(ge=0)] = None,
) -> JSONResponse:
    result = await health.ready(_boot(request), max_lag_events, max_lag_seconds)
    return JSONResponse(result.to_dict(), status_code=200 if result.ready else 503)


@router.get("/metrics", summary="Prometheus 指标", include_in_schema=False)
async def prometheus(request: Request) -> Response:
    body, content_type = await asyncio.to_thread(metrics.render, _boot(request))
    return Response(body, media_type=content_type)
