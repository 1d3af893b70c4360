"""Release members read within a stated size cap, so an archive cannot be a decompression bomb.

A tar member's header states its size (tarfile yields exactly that many bytes, sparse members
included); it is checked against :data:`MEMBER_CAP` before the member is opened. bz2 data (NATS-Bench's ``*.pbz2``) is
decompressed in steps up to the same cap. The largest real member, CIFAR-100's ``train`` pickle, is
155 MB, so the cap refuses nothing a release holds.
"""
from __future__ import annotations

import bz2
import tarfile
from pathlib import Path

from evoproxy.errors import EvoproxyError

MEMBER_CAP = 512 * 2 ** 20   # bytes, per member and per decompressed file


def _over(where: str, size: int) -> EvoproxyError:
    return EvoproxyError(f"{where} holds {size:,} bytes, over the {MEMBER_CAP:,}-byte cap for one release "
                         "file (a decompression bomb, or not the release); check where it came from")


def read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, where: str) -> bytes:
    """The bytes of one tar member, refused before reading when its stated size is over the cap."""
    if member.size > MEMBER_CAP:
        raise _over(where, member.size)
    return tar.extractfile(member).read()   # tarfile yields exactly the stated size


def read_file(path: Path, where: str) -> bytes:
    """The bytes of a file of an extracted release folder, within the same cap."""
    size = path.stat().st_size
    if size > MEMBER_CAP:
        raise _over(where, size)
    return path.read_bytes()


def bz2_decompress(raw: bytes, where: str) -> bytes:
    """``bz2.decompress`` that stops past the cap (ValueError / OSError / EOFError for bad data)."""
    out, d = bytearray(), bz2.BZ2Decompressor()
    chunk = d.decompress(raw, max_length=MEMBER_CAP + 1)
    while True:
        out += chunk
        if len(out) > MEMBER_CAP:
            raise _over(where, len(out))
        if d.eof or d.needs_input:
            break
        chunk = d.decompress(b"", max_length=MEMBER_CAP + 1 - len(out))
    if not d.eof:
        raise EOFError("compressed data ended before the end-of-stream marker")
    return bytes(out)
