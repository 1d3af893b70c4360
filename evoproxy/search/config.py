"""Run configuration: a frozen dataclass loaded from TOML in experiments/, overridable from the CLI.

Execution settings (backend, workers, Ray address, data directory, device) do not change a
run's result and may differ when a run is resumed; everything else is the run's identity.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from evoproxy.backends import BACKENDS
from evoproxy.errors import EvoproxyError
from evoproxy.search.selection import SELECTIONS

EXECUTION_KEYS = ("backend", "workers", "ray_address", "data_dir", "device", "memory_mb", "timeout_s")

@dataclass(frozen=True)
class RunConfig:
    benchmarks: tuple[str, ...] = ("nb201-cifar10",)
    combine: str = "mean"  # how fitness combines over benchmarks: mean | min
    fitness: str = "kendall"  # kendall | spearman | emq
    metric: str = "test_200ep"
    search_archs: int = 48  # per benchmark, from its search split
    holdout_archs: int = 100  # per benchmark, from its holdout split
    screen_archs: int = 8  # from the search archs, for the cheap dynamic screen
    max_tie_frac: float = 0.5
    population: int = 24
    generations: int = 10
    offspring: int = 8  # children per generation
    selection: str = "diversity"  # diversity (EMQ) | tournament | aging
    top_frac: float = 0.5  # diversity: parents come from this top part
    tournament_size: int = 3
    representation: str = "tree"  # tree | two-branch
    p_crossover: float = 0.6
    max_depth: int = 7
    max_size: int = 20
    stats: tuple[str, ...] = ("weight", "grad", "act", "act_grad", "virtual_grad")
    ops: Optional[tuple[str, ...]] = None  # None: every registered op
    control: Optional[str] = None  # a proxy (e.g. "params"): fitness is the partial correlation given it
    teacher: Optional[str] = None  # vit-* benchmarks: teacher checkpoint (None: $EVOPROXY_TEACHER, else the shipped one)
    hall_of_fame: int = 5
    baselines: tuple[str, ...] = ("synflow", "nwot", "snip", "grad_norm", "fisher", "jacov",
                                  "l2_norm", "params", "flops")
    seed: int = 0
    split_seed: int = 0
    probe: str = "auto"  # auto: the benchmark's own dataset's images if present, else CIFAR-10 (see README, Data)
    batch_size: int = 16
    threads: int = 1
    # execution settings
    backend: str = "serial"
    workers: int = 2
    ray_address: Optional[str] = None
    data_dir: Optional[str] = None
    device: str = "cpu"
    memory_mb: int = 4096
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        checks = [(self.combine in ("mean", "min"), "combine must be mean or min"),
                  (self.fitness in ("kendall", "spearman", "emq"), "fitness must be kendall, spearman or emq"),
                  (self.selection in SELECTIONS, f"selection must be one of {', '.join(SELECTIONS)}"),
                  (self.representation in ("tree", "two-branch"), "representation must be tree or two-branch"),
                  (self.backend in BACKENDS, f"backend must be one of {', '.join(BACKENDS)}"),
                  (self.population >= 2 and self.offspring >= 1, "population >= 2 and offspring >= 1"),
                  (2 <= self.screen_archs <= self.search_archs, "need 2 <= screen_archs <= search_archs"),
                  (self.generations >= 0, "generations must be >= 0"),
                  (self.control is None or self.fitness in ("kendall", "spearman"),
                   "control needs fitness kendall or spearman (a partial correlation)")]
        for ok, msg in checks:
            if not ok:
                raise EvoproxyError(f"bad config: {msg}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_KEYS}

    def replace(self, **changes: Any) -> "RunConfig":
        return from_dict({**self.to_dict(), **{k: v for k, v in changes.items() if v is not None}})

def from_dict(values: dict[str, Any], where: str = "config") -> RunConfig:
    fields = {f.name: f for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise EvoproxyError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    try:
        return RunConfig(**tuples)
    except TypeError as e:
        raise EvoproxyError(f"{where}: {e}") from None

def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise EvoproxyError(f"config {path} not found; see experiments/ for examples") from None
    except tomllib.TOMLDecodeError as e:
        raise EvoproxyError(f"config {path} is not valid TOML: {e}") from None
    return from_dict(values, str(path))

def parse_override(item: str) -> tuple[str, Any]:
    """``key=value`` with a TOML value (``population=32``, ``stats=["grad"]``)."""
    key, sep, raw = item.partition("=")
    if not sep:
        raise EvoproxyError(f"--set takes key=value, got {item!r}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string
    return key.strip(), value

