"""A corrupt SQLite read-model file (a truncated copy, a disk fault) is detected and moved aside.

The read models are derived data: nothing in them is lost by starting again from the events. So the
projector checks its SQLite file when it starts (``PRAGMA quick_check``), and a file SQLite calls
malformed is renamed to ``<name>.corrupt-<UTC time>`` (with its ``-wal`` and ``-shm``), kept for a
post-mortem, and the read models are rebuilt from event zero in a fresh file. ``oneseal projections
rebuild`` does the same. PostgreSQL read models are left to PostgreSQL (its own checksums and recovery).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

CORRUPT_SUFFIX = ".corrupt-"


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///`` read-model URL, or None for any other database."""
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def corruption(url: str) -> str | None:
    """Why SQLite cannot read the read-model file (its first complaint), or None when it reads well or
    is not a SQLite file that exists."""
    path = sqlite_file(url)
    if path is None or not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    except sqlite3.DatabaseError as e:
        return str(e)
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as e:
        return str(e)
    finally:
        db.close()
    problems = [str(r[0]) for r in rows if r and r[0] != "ok"]
    return problems[0] if problems else None


def quarantine(url: str) -> Path:
    """Move the read-model file (and its WAL and shared-memory files) aside; return the new name."""
    path = sqlite_file(url)
    assert path is not None, "only a SQLite read model is moved aside"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}{CORRUPT_SUFFIX}{stamp}")
    for extra in ("-wal", "-shm"):
        side = path.with_name(path.name + extra)
        if side.exists():
            side.rename(target.with_name(target.name + extra))
    path.rename(target)
    return target


def repair(url: str) -> tuple[str, Path] | None:
    """If the SQLite read model is corrupt, move it aside and return (why, where it went); else None.
    The caller must hold every projection's lease: nobody else may be writing the file."""
    why = corruption(url)
    if why is None:
        return None
    return why, quarantine(url)
