"""The projection process (`oneseal project`): keeps the read models up to date, exactly once."""

from __future__ import annotations

import os

import structlog

from projections.cases import CasesProjection
from projections.runner import ProjectionRunner, lease, make_engine
from services.bootstrap import Bootstrap
from workers.logging import configure_logging
from workers.stopping import StopFlag, stop_on_signals

log = structlog.get_logger("oneseal.projector")


def main() -> int:
    boot = Bootstrap()
    configure_logging(boot.settings.log_format)
    batch = int(os.environ.get("ONESEAL_PROJECTION_BATCH", "5000"))
    runner = ProjectionRunner(
        boot.store, make_engine(boot.settings.read_model_url), CasesProjection(), batch_size=batch
    )
    stop = StopFlag()  # not threading.Event: setting one from a signal handler can deadlock
    stop_on_signals(stop)
    with lease(runner.engine, runner.name):
        runner.run_forever(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
