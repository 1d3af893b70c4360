"""Opening benchmarks for a use case: names resolved, the teacher checked before any work."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from evoproxy.benchmarks import BENCHMARKS, Benchmark, get_benchmark
from evoproxy.benchmarks.checkpoints import load_teacher
from evoproxy.errors import EvoproxyError, EvoproxyNote

TEACHER_ENV = "EVOPROXY_TEACHER"


def resolve_teacher(path: Optional[str], benchmarks: Sequence[str]) -> Optional[str]:
    """The teacher checkpoint for these benchmarks: ``path``, else ``$EVOPROXY_TEACHER`` (for
    distillation benchmarks), else None (their shipped default). Checked now: one line if unreadable."""
    if path is not None:
        other = [b for b in benchmarks if b in BENCHMARKS and not BENCHMARKS.get(b).uses_teacher]
        if other:
            raise EvoproxyError(f"--teacher only applies to vit-* benchmarks, not {', '.join(other)}")
    elif all(b in BENCHMARKS and BENCHMARKS.get(b).uses_teacher for b in benchmarks):
        path = os.environ.get(TEACHER_ENV) or None
    if path is None:
        return None
    path = str(Path(path).resolve())
    load_teacher(path)
    return path


@dataclass(frozen=True)
class BenchmarkOpener:
    """Opens a run's benchmarks by name with its settings, written out once: what the app opens
    them with and what every worker is handed (plain data, so a Ray worker opens its own copies)."""

    data_dir: Optional[str] = None
    split_seed: int = 0
    metric: str = "test_200ep"
    teacher: Optional[str] = None  # resolved (:func:`resolve_teacher`); for the searched benchmarks
    transfer: tuple[str, ...] = ()  # opened with their own metric and teacher: reported, never searched

    def __call__(self, name: str) -> Benchmark:
        if name in self.transfer:
            return get_benchmark(name, self.data_dir, self.split_seed)
        return get_benchmark(name, self.data_dir, self.split_seed, self.metric, self.teacher)


def open_benchmark(name: str, data_dir: Optional[str] = None, split_seed: int = 0,
                   metric: str = "test_200ep", teacher: Optional[str] = None):
    """``get_benchmark`` with the teacher resolved as :func:`resolve_teacher` does."""
    return get_benchmark(name, data_dir, split_seed, metric, resolve_teacher(teacher, [name]))


def check_probe_classes(bench, batch) -> None:
    """One line when the probe batch's labels are outside the classes the benchmark's networks output
    (CIFAR-100 images for CIFAR-10 networks): a loss over them is undefined."""
    classes = getattr(bench, "num_classes", None)
    top = int(batch.y.max()) if len(batch.y) else -1
    if classes is not None and top >= classes:
        raise EvoproxyError(f"the probe batch ({batch.label.split(' (')[0]}) has labels up to {top}, but the networks "
                            f"of {bench.name} output {classes} classes: probe with their own dataset (leave --probe "
                            f"out, or the config's probe = \"auto\") or images of at most {classes} classes")


def _here(device: str) -> bool:
    """Whether this machine has ``device``; one line for a device torch does not know."""
    import torch
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError, TypeError):
        raise EvoproxyError(f"unknown device {device!r}; use cpu, cuda, cuda:N or mps") from None
    present = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    return present.get(kind, False)


def check_device(device: str) -> None:
    """One line for a device torch does not know or this machine does not have."""
    if not _here(device):
        raise EvoproxyError(f"device {device!r} is not available on this machine; use --device cpu")


def usable_device(device: str, elsewhere: bool = False) -> str:
    """A search's device: ``device`` if this machine has it, else ``"cpu"`` with one note (one line for a device
    torch does not know). ``elsewhere``: the workers run on a cluster's nodes, which answer for themselves."""
    if _here(device) or elsewhere:
        return device
    warnings.warn(f"device {device!r} is not available on this machine: scoring on the cpu", EvoproxyNote,
                  stacklevel=2)
    return "cpu"


def check_sizes(task, name: str, bench) -> None:
    """The config's ``task`` section's ``search_archs`` and ``holdout_archs`` fit the benchmark's splits; else
    one line with sizes that do."""
    bench.sample(0, "all", 0)  # a table that cannot rank (one network, one accuracy for all) refuses here
    n_search, n_holdout = len(bench.arch_ids("search")), len(bench.arch_ids("holdout"))
    want = [(k, n, split, have) for k, n, split, have in (("search_archs", task.search_archs, "search", n_search),
                                                         ("holdout_archs", task.holdout_archs, "holdout", n_holdout))
            if n > have]
    if not want:
        return
    key, n, split, have = want[0]
    where = (f"{name}: cannot sample {key}={n} of the {have} '{split}' archs (the benchmark has "
             f"{n_search + n_holdout} networks, {n_search} in its search split and {n_holdout} in its holdout split)")
    if min(n_search, n_holdout) < 2:
        raise EvoproxyError(f"{where}; a search needs at least 2 networks in each split (4 in all): use a larger "
                            "benchmark")
    search = task.search_archs if task.search_archs <= n_search else max(2, n_search // 2)
    selection = task.selection_archs if search == task.search_archs else min(task.selection_archs,
                                                                            max(2, n_search - search))
    fit = {"search_archs": search, "selection_archs": selection,
           "holdout_archs": min(task.holdout_archs, n_holdout), "screen_archs": min(task.screen_archs, search)}
    sets = " ".join(f"--set {k}={v}" for k, v in fit.items() if v != getattr(task, k))
    raise EvoproxyError(f"{where}; sizes that fit: {sets} (nothing was written)")
