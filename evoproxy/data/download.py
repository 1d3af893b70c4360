"""Downloads of the data sources that have public URLs: checksummed and resumable.

A download goes to ``<name>.part`` beside its target and continues from there when run again
(an HTTP ``Range`` request; a server that ignores it restarts the file). The file is renamed
into place only once its checksum matches; a mismatch deletes it and says so.
"""
from __future__ import annotations

import hashlib
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from evoproxy.errors import EvoproxyError

CHUNK = 1 << 16
Progress = Optional[Callable[[int, Optional[int]], None]]


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    filename: str
    algorithm: str
    """``"md5"`` or ``"sha256"``."""
    digest: str
    what: str


SOURCES: dict[str, Source] = {
    "cifar10": Source("cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                      "cifar-10-python.tar.gz", "md5", "c58f30108f718f92721af3b95e74349a",
                      "CIFAR-10, python version (163 MB; Krizhevsky 2009)"),
    "cifar100": Source("cifar100", "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                       "cifar-100-python.tar.gz", "md5", "eb9058c3a382ffc7106e4002c42a8d85",
                       "CIFAR-100, python version (161 MB; Krizhevsky 2009)"),
}
"""Sources with a public, stable URL and a published checksum (the md5 the dataset page gives)."""


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(source: Source, part: Path, progress: Progress, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with urllib.request.urlopen(urllib.request.Request(source.url, headers=headers), timeout=timeout) as r:
        if have and r.status != 206:     # the server ignored the range: start again
            have = 0
        length = r.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        with open(part, "ab" if have else "wb") as f:
            done = have
            for block in iter(lambda: r.read(CHUNK), b""):
                f.write(block)
                done += len(block)
                if progress:
                    progress(done, total)
    if total is not None and done < total:
        raise ConnectionError(f"connection closed after {done} of {total} bytes")


def download(source: Source, dest_dir: Path, progress: Progress = None, timeout: float = 60.0) -> Path:
    """``dest_dir/<filename>``, downloaded (or continued) and checked against the source's checksum."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    target, part = dest_dir / source.filename, dest_dir / (source.filename + ".part")
    if target.is_file() and file_digest(target, source.algorithm) == source.digest:
        return target
    try:
        _fetch(source, part, progress, timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and part.exists():    # nothing left to fetch: the part is whole
            pass
        else:
            raise EvoproxyError(f"download of {source.url} failed: HTTP {err.code} {err.reason}; "
                                "run the same command again to resume") from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise EvoproxyError(f"download of {source.url} failed ({reason}); run the same command again "
                            f"to resume from {part}") from None
    got = file_digest(part, source.algorithm)
    if got != source.digest:
        part.unlink()
        raise EvoproxyError(f"{source.filename}: {source.algorithm} {got} does not match the published "
                            f"{source.digest}; the damaged download was deleted, run the command again")
    part.replace(target)
    return target
