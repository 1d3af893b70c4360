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
from evoproxy.plugins import load_plugins
from evoproxy.evolve.selection import SELECTIONS
from evoproxy.scoring.worker import BATCH_SIZE

EXECUTION_KEYS = ("backend", "workers", "ray_address", "data_dir", "device", "memory_mb", "timeout_s", "max_minutes")

INT_MIN = {"search_archs": 2, "selection_archs": 2, "holdout_archs": 2, "ensemble_size": 0, "screen_archs": 2, "population": 2, "generations": 0,
           "offspring": 1, "tournament_size": 1, "max_depth": 1, "max_size": 1, "hall_of_fame": 1, "seed": 0,
           "split_seed": 0, "batch_size": 1, "threads": 1, "workers": 1, "memory_mb": 1}
FRACTIONS = {"same_behaviour": (0.0, True), "max_tie_frac": (0.0, False), "top_frac": (0.0, True), "p_crossover": (0.0, False)}
CHOICES = {"combine": ("mean", "min"), "fitness": ("kendall", "spearman", "emq"),
           "representation": ("tree", "two-branch"), "store_dtype": ("float32", "bfloat16", "float16")}
NAME_LISTS = {"benchmarks": False, "transfer": True, "stats": False, "ops": False, "baselines": True, "plugins": True}
"""Tuple-of-names keys, and whether they may be empty (``ops`` may be None: every op)."""
OPTIONAL_TEXT = ("control", "teacher", "ray_address", "data_dir", "init_from")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _list_problem(key: str, value: Any, may_be_empty: bool) -> str:
    if value is None and key == "ops":
        return ""
    if not isinstance(value, (tuple, list)) or not all(isinstance(v, str) and v for v in value):
        return "must be a list of names, e.g. [\"a\", \"b\"]"
    return "" if value or may_be_empty else "must name at least one"


def field_problem(key: str, value: Any) -> str:
    """What is wrong with ``value`` for config ``key`` ("" when it is fine)."""
    if key in INT_MIN:
        return "" if _is_int(value) and value >= INT_MIN[key] else f"must be an integer >= {INT_MIN[key]}"
    if key in FRACTIONS:
        low, open_low = FRACTIONS[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 1 and \
            (value > low if open_low else value >= low)
        return "" if ok else f"must be a number in {'(' if open_low else '['}0, 1]"
    if key in ("timeout_s", "max_minutes"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < float("inf")
        unit = "seconds" if key == "timeout_s" else "minutes"
        return "" if ok or (key == "max_minutes" and value is None) else f"must be a number of {unit} > 0"
    if key in CHOICES or key in ("selection", "backend"):
        allowed = CHOICES.get(key) or tuple(SELECTIONS if key == "selection" else BACKENDS)
        return "" if value in allowed else f"must be one of {', '.join(allowed)}"
    if key in NAME_LISTS:
        return _list_problem(key, value, NAME_LISTS[key])
    if key in OPTIONAL_TEXT:
        return "" if value is None or (isinstance(value, str) and value) else "must be a non-empty string"
    return "" if isinstance(value, str) and value else "must be a non-empty string"


@dataclass(frozen=True)
class RunConfig:
    benchmarks: tuple[str, ...] = ("nb201-cifar10",)
    combine: str = "mean"  # how fitness combines over benchmarks: mean | min
    fitness: str = "kendall"  # kendall | spearman | emq
    metric: str = "test_200ep"
    search_archs: int = 48  # per benchmark, from its search split
    selection_archs: int = 48  # per benchmark, from its search split (disjoint from the search networks)
    holdout_archs: int = 100  # per benchmark, from its holdout split: the final figures
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
    init_from: Optional[str] = None  # warm start: a run directory (its last population) or a proxies file
    teacher: Optional[str] = None  # vit-* benchmarks: teacher checkpoint (None: $EVOPROXY_TEACHER, else the shipped one)
    hall_of_fame: int = 5  # chosen on the selection networks among the best distinct search programs
    same_behaviour: float = 0.98  # rank correlation on the search networks at which two programs count as one
    ensemble_size: int = 4  # most members of the evolved ensemble (0: none)
    transfer: tuple[str, ...] = ()  # benchmarks never searched on (e.g. "resnet-cifar10"): winners are reported
    # on all their networks, and a finalist that is NaN/inf on any of them is left out of the hall of fame
    baselines: tuple[str, ...] = ("synflow", "nwot", "jacov", "zico", "meco", "swap", "aznas", "tenas", "gradsign",
                                  "epe_nas", "snip", "grad_norm", "fisher", "l2_norm", "params", "flops")
    plugins: tuple[str, ...] = ()  # the user's modules or .py files registering ops, benchmarks ... (README, Extending)
    seed: int = 0
    split_seed: int = 0
    probe: str = "auto"  # auto: the benchmark's own dataset's images if present, else CIFAR-10 (see README, Data)
    batch_size: int = BATCH_SIZE
    threads: int = 1
    store_dtype: str = "float32"  # resident statistics as float32 | bfloat16 | float16 (half the memory)
    # execution settings
    backend: str = "serial"
    workers: int = 2
    ray_address: Optional[str] = None
    data_dir: Optional[str] = None
    device: str = "cpu"
    memory_mb: int = 4096
    timeout_s: float = 60.0
    max_minutes: Optional[float] = None  # a time budget: the run ends after the generation that passes it

    def __post_init__(self) -> None:
        for key, value in dataclasses.asdict(self).items():
            problem = field_problem(key, value)
            if problem:
                raise EvoproxyError(f"bad config: {key} = {value!r}: {problem}")
        checks = [(self.screen_archs <= self.search_archs, "need screen_archs <= search_archs"),
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
    plugins = tuples.get("plugins", ())
    if isinstance(plugins, tuple) and all(isinstance(p, str) and p for p in plugins):
        load_plugins(plugins)  # before the checks: a plugin may register a benchmark or selection named here
    try:
        return RunConfig(**tuples)
    except TypeError as e:
        raise EvoproxyError(f"{where}: {e}") from None

def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise EvoproxyError(f"config {path} not found (or not a file); see experiments/ for examples") from None
    except UnicodeDecodeError as e:
        raise EvoproxyError(f"config {path} is not UTF-8 text (byte {e.start}); save it as UTF-8 TOML") from None
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

