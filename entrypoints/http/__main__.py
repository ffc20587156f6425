"""``python -m entrypoints.http``: the web process (what `oneseal up` starts beside the worker)."""

from __future__ import annotations

from entrypoints.http.app import serve
from services.bootstrap import Bootstrap
from workers.logging import configure_logging


def main() -> None:
    boot = Bootstrap()
    configure_logging(boot.settings.log_format)
    serve(boot)


if __name__ == "__main__":
    main()
