"""Rebuild the embedded default data (evoproxy/data/embedded/) from a full data directory.

    python experiments/build_embedded.py [--data-dir ../shared/data]

Writes the compact NAS-Bench-201 table (every architecture; the accuracy columns the benchmarks
read, exact as in the source CSV) and the probe set (the original JPEG bytes of every CIFAR-10
training image that a default probe batch draws: batch sizes 8/16/32/64, seeds 0-4), with a
provenance file naming each source's sha256. Output is deterministic (gzip mtime 0).
"""
from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import io
import json
from pathlib import Path

import numpy as np

from evoproxy.data.embedded import (EMBEDDED, NB201_FILE, PROBE_BATCH_SIZES, PROBE_FILE, PROBE_SEEDS,
                                    TABLE_COLUMNS, probe_indices)
from evoproxy.data.paths import data_file

NB201_SOURCE = "nb201/nb201_all_15625.csv"
PACK_SOURCE = "images/cifar10_train_jpeg_bytes.npz"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_table(src: Path) -> dict:
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(TABLE_COLUMNS)
    for r in rows:
        w.writerow([r[c] for c in TABLE_COLUMNS])
    with gzip.GzipFile(EMBEDDED / NB201_FILE, "wb", compresslevel=9, mtime=0) as f:
        f.write(buf.getvalue().encode())
    return {"file": NB201_FILE, "rows": len(rows), "columns": list(TABLE_COLUMNS),
            "source": NB201_SOURCE, "source_sha256": sha256(src)}


def write_probe_set(src: Path) -> dict:
    with np.load(src, allow_pickle=False) as pack:
        data, offsets, labels = pack["data"], pack["offsets"], pack["labels"]
    idx = probe_indices(len(labels))
    blobs = [data[offsets[i]:offsets[i + 1]] for i in idx]
    np.savez_compressed(EMBEDDED / PROBE_FILE, index=np.asarray(idx, np.int64),
                        offsets=np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64),
                        data=np.concatenate(blobs), labels=labels[idx], n_total=np.int64(len(labels)))
    return {"file": PROBE_FILE, "images": len(idx), "batch_sizes": list(PROBE_BATCH_SIZES),
            "seeds": list(PROBE_SEEDS), "source": PACK_SOURCE, "source_sha256": sha256(src)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", help="a full data directory (default: the usual resolution)")
    args = ap.parse_args()
    prov = {"nb201": write_table(data_file(NB201_SOURCE, args.data_dir)),
            "probe": write_probe_set(data_file(PACK_SOURCE, args.data_dir)),
            "command": "python experiments/build_embedded.py"}
    (EMBEDDED / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    for name in (NB201_FILE, PROBE_FILE):
        print(f"{name}: {(EMBEDDED / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
