"""The projection process (`oneseal project`): keeps the read models up to date, exactly once."""

from __future__ import annotations

import os

import structlog

from domain.application import CaseApplication
from projections.runner import ProjectionRunner, lease, make_engine
from workers.logging import configure_logging
from workers.settings import Settings
from workers.stopping import StopFlag, stop_on_signals

log = structlog.get_logger("oneseal.projector")


def main() -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    app = CaseApplication(env=settings.event_store_env())
    batch = int(os.environ.get("ONESEAL_PROJECTION_BATCH", "5000"))
    runner = ProjectionRunner(app, make_engine(settings.read_model_url), batch_size=batch)
    stop = StopFlag()  # not threading.Event: setting one from a signal handler can deadlock
    stop_on_signals(stop)
    with lease(runner.engine, runner.name):
        runner.run_forever(stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
