"""The eval use case: score proxies on a benchmark's architectures, saving each as it is done."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from evoproxy.app.benchmarks import check_device, check_probe_classes, open_benchmark
from evoproxy.benchmarks.suite_zero import load_suite_zero
from evoproxy.data.images import load_probe_batch
from evoproxy.errors import EvoproxyError
from evoproxy.lang.proxies import PROXIES, proxies_for
from evoproxy.lang.proxyfile import ProxySpec, resolve
from evoproxy.lang.stats import STATS
from evoproxy.scoring.inits import INITS
from evoproxy.scoring.scorecache import ScoreCache, cache_folder
from evoproxy.scoring.summary import EvalRun, network_specs, run_eval

__all__ = ["proxy_specs", "resolve_archs", "probe_for", "with_init", "INIT_NAMES", "ScoreWriter", "network_specs",
           "run_eval", "plan_eval", "EvalPlan", "SPLITS"]
SPLITS = ("search", "holdout", "all")


def proxy_specs(text: str, bench) -> list[ProxySpec]:
    """``a;b;all``: registered names, formulas or files; ``all`` is every classic proxy of the
    benchmark's line. Teacher statistics are refused outside distillation benchmarks."""
    names = [n for part in text.split(";") for n in (proxies_for(bench.proxy_line) if part == "all" else [part])]
    specs = [ProxySpec(n, PROXIES.get(n).program) if n in PROXIES else resolve(n) for n in names]
    for spec in specs:
        if bench.proxy_line != "vit" and any(STATS.get(st).pass_name == "kd" for st in spec.program.stats):
            raise EvoproxyError(f"proxy {spec.name} needs teacher statistics, which {bench.name} does not "
                                "have; use a vit-* benchmark")
    return specs


def resolve_archs(bench, archs: str, split: str, seed: int, data_dir: Optional[str]) -> list[int]:
    """``archs``: how many to sample from ``split``, or ``suite-zero`` (NAS-Bench-Suite-Zero's)."""
    if archs == "suite-zero":
        if not bench.name.startswith("nb201-"):
            raise EvoproxyError(f"--archs suite-zero needs an nb201-* benchmark, not {bench.name}; give a number")
        dataset = bench.name.split("-", 1)[1]
        rows = load_suite_zero("ImageNet16-120" if dataset == "imagenet16" else dataset, data_dir)
        return [bench.index_of(r.arch_str) for r in rows]
    try:
        n = int(archs)
    except ValueError:
        raise EvoproxyError(f"--archs takes a number or 'suite-zero', got {archs!r}") from None
    available = len(bench.arch_ids(split))
    if not 2 <= n <= available:
        raise EvoproxyError(f"--archs {n}: need between 2 (a rank correlation needs two) and {available} "
                            f"(the {split} split of {bench.name})")
    return bench.sample(n, split, seed)


def probe_for(bench, probe: Optional[str], batch_size: int, seed: int, data_dir: Optional[str]):
    """``(batch, seed)``: the benchmark's own probe when it dictates one and none is asked for."""
    own = bench.probe_batch() if probe is None else None
    if own is not None:
        return own, seed if bench.probe_seed is None else bench.probe_seed
    batch = load_probe_batch(probe or "auto", batch_size, seed, data_dir, bench.image_set)
    check_probe_classes(bench, batch)
    return batch, seed


INIT_NAMES = list(INITS)
"""What ``eval --init`` accepts."""


class _Reinitialised:
    """A benchmark whose networks are re-drawn with another init after they are built."""

    def __init__(self, bench, init: str) -> None:
        self._bench, self._init, self._init_name = bench, INITS.get(init), init

    def __getattr__(self, name: str):
        return getattr(self._bench, name)

    def build(self, arch_id: int):
        return self._init(self._bench.build(arch_id))

    def network_key(self, arch_id: int):
        key = self._bench.network_key(arch_id)
        return None if key is None else f"{key}|init={self._init_name}"


def with_init(bench, init: str):
    """``bench`` with its networks re-initialised by ``init`` (see :mod:`evoproxy.scoring.inits`)."""
    return bench if init == "benchmark" else _Reinitialised(bench, init)


class ScoreWriter:
    """Writes each architecture's scores as soon as they exist, so an interrupted run keeps them.

    An existing file with the same columns is continued, never truncated: every row in it is kept,
    its wanted architectures with readable values are not probed again (a row with an empty or
    unreadable value is probed again and its new row appended; the last readable row wins).
    """

    def __init__(self, path: str, bench, archs: Sequence[int], specs: Sequence[ProxySpec]) -> None:
        self.bench, self.archs = bench, archs
        header = ["arch_id", "accuracy", *(s.name for s in specs)]
        target = Path(path)
        if target.is_dir() or not target.parent.is_dir():
            raise EvoproxyError(f"--save {path}: give a file in an existing folder")
        self.done = read_scores(path, header, set(archs))
        fresh = not target.is_file() or target.stat().st_size == 0
        try:
            self.file = open(path, "a", newline="")
        except OSError as err:
            raise EvoproxyError(f"cannot write --save {path} ({err.strerror}); pick another file") from None
        self.csv = csv.writer(self.file)
        if fresh:
            self.csv.writerow(header)

    def write(self, j: int, column) -> None:
        arch = self.todo[j]
        try:
            self.csv.writerow([arch, self.bench.accuracy(arch), *(repr(float(v)) for v in column)])
            self.file.flush()
        except OSError as err:  # a full disk: the rows written stay, a cut row is probed again next time
            raise EvoproxyError(f"cannot write --save {self.file.name} ({err.strerror}): free some space and run "
                                "the same command again; the networks already saved are not probed again") from None

    def close(self) -> None:
        try:
            self.file.close()
        except OSError:  # only a row whose write already failed (and said so) is still buffered
            pass

    @property
    def todo(self) -> list[int]:
        return [a for a in self.archs if a not in self.done]


def read_scores(path: str, header: list[str], wanted: set[int]) -> dict:
    """Readable scores already in ``path`` (if it exists with exactly ``header``) for wanted archs."""
    if not Path(path).is_file() or Path(path).stat().st_size == 0:
        return {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise EvoproxyError(f"cannot read --save {path} ({err}); choose another file") from None
    if not rows or rows[0] != header:
        found = ", ".join(rows[0][2:]) if rows else "no header"
        raise EvoproxyError(f"{path} holds other columns ({found}); choose another --save file or remove it")
    done = {}
    for r in rows[1:]:
        try:
            arch, values = int(r[0]), np.array([float(v) for v in r[2:]])
        except (ValueError, IndexError):
            continue    # an unreadable row: probed again
        if len(r) == len(header) and arch in wanted:
            done[arch] = values
    return done


@dataclass
class EvalPlan:
    """An evaluation checked and ready: the benchmark, proxies, architectures and probe batch resolved,
    a ``save`` file opened (its finished architectures in ``done``)."""

    bench: object
    specs: list[ProxySpec]
    archs: list[int]
    batch: object
    seed: int
    device: str
    saver: Optional[ScoreWriter]
    kept: Optional[ScoreCache] = None

    @property
    def done(self) -> dict:
        return self.saver.done if self.saver else {}

    def run(self, on_arch: Optional[Callable[[int, np.ndarray], None]] = None) -> EvalRun:
        """Probe what is not done yet (``on_arch`` after each network) and summarise every proxy."""
        def each(j: int, column) -> None:
            if self.saver:
                self.saver.write(j, column)
            if on_arch:
                on_arch(j, column)
        try:
            return run_eval(self.bench, self.specs, self.archs, self.batch.x, self.batch.y, self.seed, self.device,
                            each, self.done, self.kept)
        finally:
            if self.saver:
                self.saver.close()


def plan_eval(proxies: str, benchmark: str = "nb201-cifar10", archs: str = "100", split: str = "all", *,
              seed: int = 0, batch_size: int = 64, probe: Optional[str] = None, metric: str = "test_200ep",
              init: str = "benchmark", device: str = "cpu", teacher: Optional[str] = None,
              data_dir: Optional[str] = None, save: Optional[str] = None, score_cache: bool = True) -> EvalPlan:
    """``evoproxy eval``'s options resolved and checked, nothing probed yet (see :class:`EvalPlan`)."""
    if split not in SPLITS:
        raise EvoproxyError(f"split {split!r}: choose one of {', '.join(SPLITS)}")
    check_device(device)
    bench = with_init(open_benchmark(benchmark, data_dir, seed, metric, teacher), init)
    specs = proxy_specs(proxies, bench)
    ids = resolve_archs(bench, archs, split, seed, data_dir)
    batch, probe_seed = probe_for(bench, probe, batch_size, seed, data_dir)
    saver = ScoreWriter(save, bench, ids, network_specs(specs)) if save else None
    kept = ScoreCache.open(cache_folder(data_dir)) if score_cache else None
    return EvalPlan(bench, specs, ids, batch, probe_seed, device, saver, kept)
