"""Run configuration: one frozen, validated record loaded from TOML in experiments/, overridable
from the CLI (``--set KEY=VALUE``) and from Python (``evoproxy.search(config, key=value)``).

Validation is declarative (pydantic): each key states its type and bounds beside its default, so a
value out of range is refused before any work, in one line. The bounds are the largest values the
engine is built for (a larger population or depth does not make a better search here, only a hang).
Execution settings (backend, workers, Ray address, data directory, device, memory, timeouts) do not
change a run's result and may differ when a run is resumed; everything else is the run's identity.
A TOML file may group keys under the section headings of :data:`SECTIONS` (``[evolution]``) or list
them flat; stored configs are flat.
"""
from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evoproxy.backends import BACKENDS
from evoproxy.errors import EvoproxyError
from evoproxy.plugins import load_plugins
from evoproxy.evolve.learned import LEARNED
from evoproxy.evolve.selection import SELECTIONS
from evoproxy.scoring.setup import ScoringConfig


def _count(low: int, high: int):
    return Annotated[int, Field(strict=True, ge=low, le=high)]


def _number(**bounds):
    return Annotated[float, Field(strict=True, allow_inf_nan=False, **bounds)]


Names = tuple[Annotated[str, Field(strict=True, min_length=1)], ...]
Text = Optional[Annotated[str, Field(strict=True, min_length=1)]]
Archs = _count(2, 100_000)
Seed = _count(0, 2 ** 32 - 1)


def _one_of(value: str, registry) -> str:
    if value not in registry:
        raise ValueError(f"must be one of {', '.join(registry)}")
    return value


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TaskConfig(Section):
    """What is searched on and reported: benchmarks, their splits, the baselines."""

    benchmarks: Annotated[Names, Field(min_length=1)] = ("nb201-cifar10",)
    transfer: Names = ()  # benchmarks never searched on (e.g. "resnet-cifar10"): winners are reported
    # on all their networks, and a finalist that is NaN/inf on any of them is left out of the hall of fame
    metric: Annotated[str, Field(strict=True, min_length=1)] = "test_200ep"
    split_seed: Seed = 0
    search_archs: Archs = 48  # per benchmark, from its search split
    selection_archs: Archs = 48  # per benchmark, from its search split (disjoint from the search networks)
    holdout_archs: Archs = 100  # per benchmark, from its holdout split: the final figures
    screen_archs: Archs = 8  # from the search archs, for the cheap dynamic screen
    teacher: Text = None  # vit-* benchmarks: teacher checkpoint (None: $EVOPROXY_TEACHER, else the shipped one)
    baselines: Names = ("synflow", "nwot", "zico", "meco", "swap", "aznas", "params", "flops")  # the strongest
    # published proxies and the size baselines (~2.3 s per network in all); name others (`evoproxy list proxies`)
    control: Text = None  # a proxy (e.g. "params"): fitness is the partial correlation given it
    learned: Names = ("random_forest", "boosted", "graf")  # models fitted on the search + selection networks'
    # accuracies over the baselines' values, reported beside them (needs scikit-learn: evoproxy[learned])

    @field_validator("learned")
    @classmethod
    def _known_models(cls, value: tuple) -> tuple:
        for name in value:
            _one_of(name, LEARNED)
        return value

    @model_validator(mode="after")
    def _screen_within_search(self) -> "TaskConfig":
        if self.screen_archs > self.search_archs:
            raise ValueError("need screen_archs <= search_archs")
        return self


class LanguageConfig(Section):
    """What programs may be made of, and their shape."""

    stats: Annotated[Names, Field(min_length=1)] = ("weight", "grad", "act", "act_grad", "virtual_grad")
    ops: Optional[Annotated[Names, Field(min_length=1)]] = None  # None: every registered op
    representation: Literal["tree", "two-branch"] = "tree"
    max_depth: _count(1, 32) = 7
    max_size: _count(1, 500) = 20
    plugins: Names = ()  # the user's modules or .py files registering ops, benchmarks ... (docs/extending.md)


class EvolutionConfig(Section):
    """The GP loop, the fitness it maximises and what it reports."""

    population: _count(2, 2000) = 24
    generations: _count(0, 100_000) = 10
    offspring: _count(1, 2000) = 8  # children per generation
    selection: str = "diversity"  # diversity (EMQ) | tournament | aging | a plugin's
    top_frac: _number(gt=0, le=1) = 0.5  # diversity: parents come from this top part
    tournament_size: _count(1, 2000) = 3
    p_crossover: _number(ge=0, le=1) = 0.6
    seed: Seed = 0
    init_from: Text = None  # warm start: a run directory (its last population) or a proxies file
    fitness: Literal["kendall", "spearman", "emq"] = "kendall"
    combine: Literal["mean", "min"] = "mean"  # how fitness combines over benchmarks
    max_tie_frac: _number(ge=0, le=1) = 0.5
    same_behaviour: _number(gt=0, le=1) = 0.98  # rank correlation at which two programs count as one
    hall_of_fame: _count(1, 100) = 5  # chosen on the selection networks among the best distinct search programs
    ensemble_size: _count(0, 64) = 4  # most members of the evolved ensemble (0: none)
    ensemble_repeats: Annotated[bool, Field(strict=True)] = False  # a member may join again (integer weights);
    # ensemble_size then counts joins
    race: Annotated[bool, Field(strict=True)] = False  # racing: a child stops once it cannot enter (evolve.racing)
    race_first: _number(gt=0, le=1) = 0.25  # racing's first slice of each benchmark's search networks
    race_z: _number(ge=0, le=10) = 2.0  # racing's margin in standard errors of the partial correlation

    @field_validator("selection")
    @classmethod
    def _registered(cls, value: str) -> str:
        return _one_of(value, SELECTIONS)   # plugins may add strategies


class ExecutionConfig(Section):
    """Where and within what limits the run executes; these may change on resume."""

    backend: str = "serial"
    workers: _count(1, 1024) = 2
    ray_address: Text = None
    data_dir: Text = None
    device: Annotated[str, Field(strict=True, min_length=1)] = "cpu"
    memory_mb: _count(1, 2 ** 24) = 4096
    timeout_s: _number(gt=0, le=86_400) = 60.0  # per candidate and network: at most a day
    max_minutes: Optional[_number(gt=0, le=525_600)] = None  # a time budget (at most a year): the run ends after
    # the generation that passes it
    score_cache: bool = True  # keep scores in the data directory's cache for later runs (evoproxy.scoring.scorecache)

    @field_validator("backend")
    @classmethod
    def _registered(cls, value: str) -> str:
        return _one_of(value, BACKENDS)   # plugins may add backends


class RunConfig(BaseModel):
    """A run's config in sections, each handed whole to the part that uses it. Built from flat keys
    (``RunConfig(population=32)``, a TOML file, ``--set``) or from section tables; stored flat."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    task: TaskConfig = TaskConfig()
    language: LanguageConfig = LanguageConfig()
    evolution: EvolutionConfig = EvolutionConfig()
    scoring: ScoringConfig = ScoringConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @model_validator(mode="before")
    @classmethod
    def _nest(cls, values: Any) -> Any:
        """Flat keys go to their section (``population`` -> ``evolution``)."""
        if not isinstance(values, dict):
            return values
        nested: dict[str, Any] = {}
        for key, value in values.items():
            if key in SECTIONS and isinstance(value, dict):
                nested.setdefault(key, {}).update(value)
            elif key in SECTIONS:
                nested[key] = value   # a section object (or a wrong value, which pydantic names)
            elif key in _SECTION_OF:
                nested.setdefault(_SECTION_OF[key], {})[key] = value
            else:
                nested[key] = value   # unknown: pydantic refuses it by name
        return nested

    @model_validator(mode="after")
    def _consistent(self) -> "RunConfig":
        if self.task.control is not None and self.evolution.fitness not in ("kendall", "spearman"):
            raise ValueError("control needs fitness kendall or spearman (a partial correlation)")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Every key, flat (the stored form)."""
        return {k: v for name in SECTIONS for k, v in getattr(self, name).model_dump().items()}

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_KEYS}

    def replace(self, **changes: Any) -> "RunConfig":
        return from_dict({**self.to_dict(), **{k: v for k, v in changes.items() if v is not None}})


SECTIONS = {name: tuple(f.annotation.model_fields) for name, f in RunConfig.model_fields.items()}
"""Where each key belongs: TOML section headings, attribute paths (``config.evolution.population``)."""
EXECUTION_KEYS = SECTIONS["execution"]
_SECTION_OF = {key: name for name, keys in SECTIONS.items() for key in keys}


def config_keys() -> list[str]:
    """Every config key, section by section."""
    return list(_SECTION_OF)


def _shown(bound: float) -> str:
    return f"{int(bound):,}" if float(bound).is_integer() else f"{bound:g}"


@cache
def allowed(key: str) -> Optional[str]:
    """What a numeric key accepts, from its declared bounds ("an integer from 1 to 4,096"); None for
    other keys."""
    section = RunConfig.model_fields[_SECTION_OF[key]].annotation
    prop = section.model_json_schema()["properties"][key]
    spec = next((s for s in prop.get("anyOf", [prop]) if s.get("type") in ("integer", "number")), None)
    if spec is None:
        return None
    what = "an integer" if spec["type"] == "integer" else "a number"
    if "minimum" in spec and "maximum" in spec:
        return f"{what} from {_shown(spec['minimum'])} to {_shown(spec['maximum'])}"
    bounds = [f"{op} {_shown(spec[k])}" for k, op in (("exclusiveMinimum", ">"), ("minimum", ">="),
                                                       ("exclusiveMaximum", "<"), ("maximum", "<=")) if k in spec]
    return f"{what} {' and '.join(bounds)}"


def _problem(err: ValidationError) -> str:
    """One line: each refused key with its value and what it must be (a number: its allowed range)."""
    parts = []
    for e in err.errors(include_url=False):
        key = next((str(x) for x in e["loc"] if x in _SECTION_OF), "")
        msg = e["msg"].removeprefix("Value error, ")
        if key and e["type"] not in ("value_error", "assertion_error") and allowed(key):
            msg = f"must be {allowed(key)}"
        shown = repr(e["input"]) if not isinstance(e["input"], dict) else ""
        parts.append(f"{key} = {shown}: {msg}" if key else msg)
    return "; ".join(dict.fromkeys(parts))


def _flat(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Keys grouped under section tables (``[evolution]``) lifted to the top level."""
    out = {k: v for k, v in values.items() if not (k in SECTIONS and isinstance(v, dict))}
    for section, keys in SECTIONS.items():
        table = values.get(section)
        if isinstance(table, dict):
            stray = sorted(set(table) - set(keys))
            if stray:
                raise EvoproxyError(f"{where}: [{section}] has no key(s) {', '.join(stray)}; "
                                    f"its keys: {', '.join(keys)}")
            clash = sorted(set(table) & set(out))
            if clash:
                raise EvoproxyError(f"{where}: {', '.join(clash)} given twice (top level and [{section}])")
            out.update(table)
    return out


def from_dict(values: dict[str, Any], where: str = "config") -> RunConfig:
    values = _flat(values, where)
    unknown = sorted(set(values) - set(_SECTION_OF))
    if unknown:
        raise EvoproxyError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(_SECTION_OF)}")
    tuples = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    plugins = tuples.get("plugins", ())
    if isinstance(plugins, tuple) and all(isinstance(p, str) and p for p in plugins):
        load_plugins(plugins)  # before the checks: a plugin may register a benchmark or selection named here
    try:
        return RunConfig(**tuples)
    except ValidationError as err:
        raise EvoproxyError(f"bad config: {_problem(err)}") from None

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

