"""A stop flag that signal handlers may set.

``threading.Event.set()`` takes the event's lock; a signal handler runs in the main thread between
two bytecodes, possibly while that same thread holds the lock inside ``Event.wait()``, and then
waits for itself forever. This flag is a plain attribute plus a self-pipe: setting it takes no lock,
and a waiter blocked in ``select`` wakes at once.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal


class StopFlag:
    def __init__(self) -> None:
        self._set = False
        self.signal: signal.Signals | None = None  # the signal that set it, if one did
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def set(self) -> None:
        self._set = True
        with contextlib.suppress(BlockingIOError):
            os.write(self._w, b"x")

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until set or ``timeout`` seconds have passed; True if set."""
        if not self._set:
            select.select([self._r], [], [], timeout)
        return self._set


def stop_on_signals(flag: StopFlag) -> None:
    """SIGTERM and SIGINT set ``flag``. The handler prints nothing: a print interrupted by a print raises."""

    def handler(signum: int, _frame: object) -> None:
        if not flag.is_set():
            flag.signal = signal.Signals(signum)
        flag.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
