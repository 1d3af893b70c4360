"""``evoproxy data import`` / ``download``: official release files -> the data directory.

Each :class:`Importer` recognises one release format and converts it once into the files the
benchmarks and probes read. The source's checksum (sha256, and md5 where the release publishes
one) is checked against the known value when there is one, and recorded with each written file
in ``imports.json`` in the data directory.
"""
from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from evoproxy.benchmarks.nb201 import release as nb201_release
from evoproxy.benchmarks.suite_zero import release as suite_zero_release
from evoproxy.benchmarks.nb201 import TABLE
from evoproxy.benchmarks.suite_zero import SUITE_ZERO
from evoproxy.benchmarks.suite_zero.spaces import FILES as SPACE_FILES
from evoproxy.data import image_release
from evoproxy.data.download import SOURCES, download, file_digest
from evoproxy.data.paths import ENV_VAR, resolve_data_dir, user_data_dir
from evoproxy.errors import EvoproxyError, EvoproxyNote

Progress = Optional[Callable[[int, Optional[int]], None]]
RECORD = "imports.json"


@dataclass(frozen=True)
class Importer:
    name: str
    what: str
    detect: Callable[[Path], bool]
    convert: Callable[[Path, Path, Progress], dict[str, int]]
    """``(source, data dir, progress) -> {written file: rows or images}``."""


def _nb201_table(rows_of) -> Callable[[Path, Path, Progress], dict[str, int]]:
    def convert(path: Path, root: Path, progress: Progress) -> dict[str, int]:
        out = root / TABLE
        return {str(out): nb201_release.write_table(rows_of(path, progress), out)}
    return convert


def _suite_zero(path: Path, root: Path, progress: Progress) -> dict[str, int]:
    obj = suite_zero_release.read_json(path)
    space = suite_zero_release.space_of(obj, path)
    if space == "nb201":
        out = root / SUITE_ZERO
        return {str(out): suite_zero_release.write_rows(suite_zero_release.suite_zero_rows(obj, path), out)}
    out = root / SPACE_FILES[f"{space}-cifar10"]
    rows, columns = suite_zero_release.space_rows(obj, space, path)
    return {str(out): suite_zero_release.write_rows(rows, out, columns)}


def _images(path: Path, root: Path, progress: Progress) -> dict[str, int]:
    return image_release.convert(path, image_release.detect(path), root, progress)


def _is_nats(path: Path) -> bool:
    return (path / "meta.pickle.pbz2").is_file() if path.is_dir() else \
        path.name.startswith("NATS-tss") and path.suffix == ".tar"


IMPORTERS = (
    Importer("nb201-pth", "NAS-Bench-201 NAS-Bench-201-v1_0-e61699.pth / v1_1-096897.pth",
             lambda p: p.is_file() and p.suffix == ".pth", _nb201_table(nb201_release.rows_from_pth)),
    Importer("nats-tss", "NATS-Bench topology NATS-tss-v1_0-3ffb9-simple/ (folder or .tar)",
             _is_nats, _nb201_table(nb201_release.rows_from_nats)),
    Importer("suite-zero", "NASLib's zc_nasbench201.json, zc_nasbench101.json or zc_nasbench301.json "
             "(NAS-Bench-Suite-Zero)",
             lambda p: p.is_file() and p.suffix == ".json", _suite_zero),
    Importer("images", "CIFAR-10/100 python-version tarball or folder; NB201's ImageNet16 folder or tar",
             lambda p: image_release.detect(p) is not None, _images),
)


def import_target(data_dir: Optional[str]) -> Path:
    """Where imports go: --data-dir or EVOPROXY_DATA when given, else the per-user folder."""
    given = data_dir or os.environ.get(ENV_VAR)
    return Path(given).expanduser() if given else user_data_dir()


def _checksums(path: Path) -> dict[str, str]:
    if path.is_dir():
        return {"sha256_of_files": file_digest_dir(path)}
    sums = {"sha256": file_digest(path, "sha256")}
    known = next((s for s in SOURCES.values() if s.filename == path.name), None)
    if known is not None:
        got = file_digest(path, known.algorithm)
        if got != known.digest:
            raise EvoproxyError(f"{path}: {known.algorithm} {got} is not the published {known.digest}; "
                                f"re-download it (`evoproxy data download {known.name}`)")
        sums[known.algorithm] = got
    return sums


def file_digest_dir(path: Path) -> str:
    """sha256 over (relative name, sha256) of every file below ``path``."""
    import hashlib
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(path)}\0{file_digest(f, 'sha256')}\n".encode())
    return h.hexdigest()


def read_record(root: Path) -> tuple[dict, Optional[str]]:
    """The import records in ``root`` and, when the file is damaged, why (it is then kept, see
    :func:`record_import`); a record that cannot be read at all is one line, before any work."""
    path = root / RECORD
    if not path.exists():
        return {}, None
    try:
        record = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise EvoproxyError(f"cannot read the import records {path} ({err.strerror or err}); make it readable, "
                            "or move it away to start a new record") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        return {}, f"{type(err).__name__}: {str(err)[:80]}"
    if not isinstance(record, dict) or not all(isinstance(v, dict) for v in record.values()):
        return {}, "not a JSON object of file records"
    return record, None


def record_import(root: Path, source: Path, importer: Importer, sums: dict,
                  written: dict[str, int]) -> None:
    """Add this import to ``imports.json``; a damaged one is first kept as ``imports.json.corrupt-<time>``
    (never reset silently) and a note names it."""
    path = root / RECORD
    record, damage = read_record(root)
    if damage is not None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        names = (path.with_name(f"{RECORD}.corrupt-{stamp}{f'-{n}' if n else ''}") for n in range(1000))
        kept = next(k for k in names if not k.exists())
        os.replace(path, kept)
        warnings.warn(f"{path} was damaged ({damage}); it is kept as {kept.name} and a new record starts with "
                      "this import (the imported files themselves are unaffected)", EvoproxyNote, stacklevel=2)
    for out, n in written.items():
        record[str(Path(out).relative_to(root))] = {"source": str(source), "format": importer.name,
                                                    "rows": n, **sums, "imported": time.strftime("%Y-%m-%d %H:%M:%S")}
    tmp = path.with_name(RECORD + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def import_path(path: str, data_dir: Optional[str] = None,
                progress: Progress = None) -> tuple[Importer, Path, dict[str, int]]:
    """Convert the release at ``path`` into the data directory; ``(importer, that dir, {file: rows})``."""
    src = Path(path).expanduser()
    if not src.exists():
        raise EvoproxyError(f"{src} does not exist; give the path of a release file or folder")
    importer = next((i for i in IMPORTERS if i.detect(src)), None)
    if importer is None:
        raise EvoproxyError(f"{src} is not a release evoproxy can import; it reads: "
                            + "; ".join(i.what for i in IMPORTERS))
    sums = _checksums(src)
    root = import_target(data_dir)
    read_record(root)  # a record that cannot be read is refused before the (long) conversion
    root.mkdir(parents=True, exist_ok=True)
    written = importer.convert(src, root, progress)
    record_import(root, src, importer, sums, written)
    return importer, root, written


def download_and_import(name: str, data_dir: Optional[str] = None, progress: Progress = None,
                        convert_progress: Progress = None) -> tuple[Path, Path, dict[str, int]]:
    """Download source ``name`` (checksummed, resumable) into ``<data dir>/downloads`` and import it."""
    if name not in SOURCES:
        raise EvoproxyError(f"no download named {name!r}; downloadable: {', '.join(SOURCES)} "
                            "(the other releases: see `evoproxy data status`)")
    root = import_target(data_dir)
    archive = download(SOURCES[name], root / "downloads", progress)
    return (archive, *import_path(str(archive), str(root), convert_progress)[1:])


def shadowing_dir(target: Path) -> Optional[Path]:
    """The data directory commands will read instead of ``target``, if any."""
    used = resolve_data_dir()
    return used if used is not None and used.resolve() != target.resolve() else None
