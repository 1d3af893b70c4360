"""One writer per run directory: an exclusive lock on ``RUN_DIR/.lock`` for as long as a search runs.

The lock is an OS file lock (``fcntl.flock``), so it goes away with the process that held it,
even after ``kill -9``; a second search on the same directory is refused at once with one line.
Where ``fcntl`` does not exist (Windows) no lock is taken.
"""
from __future__ import annotations

import os
from pathlib import Path

from evoproxy.errors import EvoproxyError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


class RunLock:
    """Held from construction until :meth:`release` (idempotent)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / ".lock"
        self._fd = None
        if fcntl is None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise EvoproxyError(f"{run_dir} is in use by another evoproxy search (pid {holder}); "
                                "wait for it to end, or pick another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def held_by(run_dir: Path) -> str:
    """The pid of the search holding ``run_dir``'s lock, or "" when none does (nothing is written)."""
    path = Path(run_dir) / ".lock"
    if fcntl is None or not path.exists():
        return ""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # a lock file this user may not read: no holder it can see
        return ""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return ""
    except OSError:
        return os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
    finally:
        os.close(fd)
