"""Ports for the processes a test starts (dev servers, workers' metrics, web).

A port found free by binding port 0 comes from the kernel's ephemeral range, the same range every
outgoing connection takes its source port from: between the test picking it and the child binding
it, a connection of another process (the dev server has hundreds) can take it, and the child fails
to listen (seen once in the scale-out test: a worker's metrics port refused). Ports below the
ephemeral range are only ever taken by an explicit bind, so a port picked there stays free."""

from __future__ import annotations

import random
import socket

LOW, HIGH = 20000, 32767  # below Linux's default ip_local_port_range (32768-60999)
_given: set[int] = set()


def free_port() -> int:
    """A port no one listens on, outside the ephemeral range, never handed out twice in this process."""
    for _ in range(1000):
        port = random.randint(LOW, HIGH)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _given.add(port)
        return port
    raise RuntimeError(f"no free port between {LOW} and {HIGH}")
