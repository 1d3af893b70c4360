"""What a worker is handed: the run's scoring section whole, the limits it runs within, and a way to
open benchmarks by name (:data:`OpenBenchmark`), of which it needs only the networks
(:class:`NetworkSource`; the full ``Benchmark`` protocol is in :mod:`evoproxy.benchmarks.base`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Callable, Literal, Optional, Protocol

from pydantic import BaseModel, ConfigDict, Field

from evoproxy.plugins import PluginRef

if TYPE_CHECKING:
    from torch import nn

    from evoproxy.data.images import ProbeBatch

BATCH_SIZE = 16
"""Probe images per network, the run config's default too (one number, not two)."""


class ScoringConfig(BaseModel):
    """How each network is probed: the run config's ``[scoring]`` section, part of the run's identity."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    probe: Annotated[str, Field(strict=True, min_length=1)] = "auto"  # auto: the benchmark's own images
    batch_size: Annotated[int, Field(strict=True, ge=1, le=4096)] = BATCH_SIZE
    threads: Annotated[int, Field(strict=True, ge=1, le=4096)] = 1  # per worker: float results depend on it;
    # a search runs no more than the machine's cores (one note says so)
    store_dtype: Literal["float32", "bfloat16", "float16"] = "float32"  # resident statistics


class NetworkSource(Protocol):
    """What a worker uses of a benchmark: its networks and how they must be probed."""

    image_set: str
    probe_seed: Optional[int]

    def build(self, arch_id: int) -> "nn.Module":
        ...

    def probe_batch(self) -> "Optional[ProbeBatch]":
        ...

    def network_key(self, arch_id: int) -> Optional[str]:
        ...


OpenBenchmark = Callable[[str], NetworkSource]
"""``open(name)``: the run's benchmark called ``name`` (picklable, so a Ray worker opens its own)."""


@dataclass(frozen=True)
class EvalSetup:
    """A worker's setup: the scoring section unchanged, plus where and within what limits it runs."""

    scoring: ScoringConfig = ScoringConfig()
    seed: int = 0  # the run's seed: every network is built and probed under it (unless its benchmark dictates one)
    data_dir: Optional[str] = None
    device: str = "cpu"
    memory_mb: int = 4096
    timeout_s: float = 60.0  # per candidate and call; a candidate past it scores NaN
    plugins: tuple[PluginRef, ...] = ()  # the user's modules, imported by every worker before anything else
    pack_networks: int = 4  # networks evaluated together, same-shape layers as one op call (0: one by one)
    reuse_mb: int = 256  # layer and scalar values of program nodes kept across calls (0: none)
    pack_threads: int = 1  # packs scored at once, each on one thread (the same bits for any number)
    score_cache: Optional[str] = None  # folder of the score cache (scores kept across runs); None: not kept
