"""The projection process (`oneseal project`): keeps the read models up to date, exactly once."""

from __future__ import annotations

import os
from contextlib import ExitStack

import structlog

from projections.runner import ProjectionRunner, lease, make_engine, run_all
from services.bootstrap import Bootstrap
from services.projections import PROJECTIONS
from workers.logging import configure_logging
from workers.stopping import StopFlag, stop_on_signals

log = structlog.get_logger("oneseal.projector")


def main() -> int:
    boot = Bootstrap()
    configure_logging(boot.settings.log_format)
    batch = int(os.environ.get("ONESEAL_PROJECTION_BATCH", "5000"))
    engine = make_engine(boot.settings.read_model_url)
    runners = [ProjectionRunner(boot.store, engine, make(), batch_size=batch) for make in PROJECTIONS.values()]
    stop = StopFlag()  # not threading.Event: setting one from a signal handler can deadlock
    stop_on_signals(stop)
    with ExitStack() as leases:
        for r in runners:
            leases.enter_context(lease(engine, r.name))
        run_all(runners, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
