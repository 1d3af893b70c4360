"""Build an MQ benchmark table: sample bit configurations, quantize, measure test top-1.

``build_mq_table`` quantizes one trained network (post-training, :func:`evoproxy.spaces.quantized.quantize_model`)
for each of K bit configurations stratified over model size, measures top-1 on the CIFAR-10 test set
and appends each finished row to a CSV at once, so an interrupted build resumes where it stopped.
A ``.json`` sidecar holds the provenance (checkpoint sha256, seeds, method, command); a build resumes
only into a table with the same provenance.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitConfig, BitSpace

from ..checkpoints import load_reference
from ..tables import append_row, read_table, resume_table
from .measured import open_measured, recipe_key

PathLike = Union[str, os.PathLike]
COLUMNS = ("id", "config", "size_mb", "bops_g", "top1", "origin")
FIRST_COLUMNS = COLUMNS[:-1]
"""Tables built before rows recorded their origin (all ``sampled``), the shipped ResNet-20 table among them."""
POOL_PER_CONFIG = 40
STRATUM_DRAWS = 2000
"""Random configurations drawn per wanted stratum member before a budget window is called too narrow."""


@dataclass(frozen=True)
class MQMethod:
    """How a configuration is quantized and measured; recorded with every table."""

    model: str = "resnet20"
    choices: tuple[int, ...] = (2, 3, 4, 8)
    first_last_bits: int = 8
    act_bits: int = 8
    calib_images: int = 1024
    calib_seed: int = 1
    bn_reestimate: bool = False
    test_limit: Optional[int] = None
    weights: str = "symmetric per-channel, clip minimising squared error"
    activations: str = "per-tensor, max over the calibration images (the input image stays float)"

    @classmethod
    def from_dict(cls, d: dict) -> "MQMethod":
        d = dict(d)
        d["choices"] = tuple(d.get("choices", cls.choices))
        return cls(**d)


def random_config(space: BitSpace, rng: np.random.Generator) -> BitConfig:
    """Free layers drawn with bit-width probabilities that are themselves random (so sizes reach both ends)."""
    p = rng.dirichlet(np.ones(len(space.choices)))
    return BitConfig(tuple(space.fixed_bits(i) or int(rng.choice(space.choices, p=p)) for i in range(space.n_layers)))


def plan_configs(space: BitSpace, k: int, seed: int) -> list[BitConfig]:
    """``k`` distinct configurations spread evenly over model size, in a seeded random order.

    The uniform configurations come first in the plan; the rest are drawn from a pool of configs
    whose per-layer bit probabilities are themselves random (so sizes reach both extremes), one
    per equal-width size bin. Any prefix of the returned order is itself spread over sizes.
    """
    if k < 1:
        raise EvoproxyError(f"--configs must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    chosen = {c.canonical: c for c in (space.uniform(b) for b in space.choices)}
    pool = [random_config(space, rng) for _ in range(POOL_PER_CONFIG * k)]
    sizes = np.array([space.size_bits(c) for c in pool])
    n_bins = max(k - len(chosen), 1)
    edges = np.linspace(sizes.min(), sizes.max(), n_bins + 1)
    for b in range(n_bins):
        order = rng.permutation(len(pool))
        inside = [i for i in order if edges[b] <= sizes[i] <= edges[b + 1] and pool[i].canonical not in chosen]
        nearest = inside or sorted((i for i in order if pool[i].canonical not in chosen),
                                   key=lambda i: abs(sizes[i] - edges[b]))
        if nearest:
            chosen.setdefault(pool[nearest[0]].canonical, pool[nearest[0]])
    configs = list(chosen.values())[:k]
    head = configs[:len(space.choices)]
    tail = [configs[i + len(head)] for i in rng.permutation(len(configs) - len(head))]
    return head + tail


def plan_stratum(space: BitSpace, k: int, seed: int, budget_mb: float, tolerance: float) -> list[BitConfig]:
    """``k`` distinct random configurations of size within ``[budget_mb * (1 - tolerance), budget_mb]``
    (drawn as :func:`plan_configs` draws its pool), in the order found: where an allocator decides."""
    if k < 1:
        raise EvoproxyError(f"--configs must be >= 1, got {k}")
    rng, low = np.random.default_rng(seed), budget_mb * (1 - tolerance)
    chosen: dict[str, BitConfig] = {}
    for _ in range(STRATUM_DRAWS * k):
        cfg = random_config(space, rng)
        if low <= space.size_mb(cfg) <= budget_mb:
            chosen.setdefault(cfg.canonical, cfg)
            if len(chosen) == k:
                return list(chosen.values())
    raise EvoproxyError(f"found {len(chosen)} of {k} configurations within {tolerance:.0%} below {budget_mb} MB "
                        f"(sizes run {space.size_mb(space.uniform(space.choices[0])):.4f} ... "
                        f"{space.size_mb(space.uniform(space.choices[-1])):.4f} MB); widen --tolerance or "
                        "choose a budget inside that range")


def stratum_name(benchmark: str, budget_mb: float) -> str:
    """The budget stratum's benchmark name, e.g. ``mq-resnet20-cifar10-0.11mb``."""
    return f"{benchmark}-{budget_mb:g}mb"


def table_columns(path: Path) -> tuple[str, ...]:
    """COLUMNS, or FIRST_COLUMNS for a table written before rows had an origin."""
    with open(path, newline="") as f:
        header = f.readline().strip().split(",")
    return FIRST_COLUMNS if tuple(header) == FIRST_COLUMNS else COLUMNS


def read_rows(path: Path) -> list[dict]:
    """Rows of a table CSV (``id``, ``config``, ``size_mb``, ``bops_g``, ``top1``, ``origin``; a table
    without ``origin`` reads as ``sampled``)."""
    rows = read_table(path, table_columns(path), "an MQ table")
    return [{"origin": "sampled", **r} for r in rows]


@dataclass(frozen=True)
class Stratum:
    """Configurations within ``tolerance`` below ``budget_mb`` (a budget stratum) instead of all sizes."""

    budget_mb: float
    tolerance: float = 0.03


def _provenance(method: MQMethod, k: int, seed: int, checkpoint: Path, sha: str, command: str,
                stratum: Optional[Stratum]) -> dict:
    name = f"mq-{method.model}-cifar10"
    return {"benchmark": stratum_name(name, stratum.budget_mb) if stratum else name, "configs": k, "seed": seed,
            "checkpoint": checkpoint.name, "checkpoint_sha256": sha, "method": asdict(method),
            **({"stratum": asdict(stratum)} if stratum else {}), "command": command, "torch": torch.__version__}


def build_mq_table(out: PathLike, k: int, checkpoint: PathLike, seed: int = 0,
                   method: MQMethod = MQMethod(), data_dir: Optional[PathLike] = None,
                   command: str = "", on_row: Optional[Callable[[int, int, dict], None]] = None,
                   stratum: Optional[Stratum] = None) -> Path:
    """Build (or continue) the table at ``out``; returns its path. ``on_row(done, total, row)``.
    A configuration already measured by the same recipe (the shared cache,
    :mod:`.measured`) is not measured again."""
    from evoproxy.data.images import normalise
    from evoproxy.spaces.quantized import quantize_model
    from evoproxy.training.loop import evaluate_accuracy
    from evoproxy.data.cifar import load_cifar10


    out, checkpoint = Path(out), Path(checkpoint)
    model, sha = load_reference(checkpoint, method.model)
    prov = _provenance(method, k, seed, checkpoint, sha, command, stratum)
    columns = table_columns(out) if out.exists() and out.stat().st_size else COLUMNS
    done = resume_table(out, prov, columns, "an MQ table")
    space = BitSpace(model, method.choices, method.first_last_bits)
    plan = (plan_stratum(space, k, seed, stratum.budget_mb, stratum.tolerance) if stratum
            else plan_configs(space, k, seed))
    origin = "stratum" if stratum else "sampled"
    test: list = []
    calib_x = normalise(load_cifar10("train", data_dir, limit=method.calib_images, seed=method.calib_seed)[0])

    def top1_of(cfg: BitConfig) -> float:
        if not test:
            test.extend(load_cifar10("test", data_dir, limit=method.test_limit, seed=seed))
        qnet = quantize_model(model, cfg, calib_x, method.bn_reestimate, reference_key=sha[:16])
        with torch.inference_mode():
            return evaluate_accuracy(qnet, *test, batch_size=100)

    measured, recipe = open_measured(data_dir), recipe_key(sha, method, seed)
    try:
        for i, cfg in enumerate(plan):
            if i in done:
                continue
            top1 = measured.get_or_measure(recipe, cfg.canonical, origin, lambda cfg=cfg: top1_of(cfg))
            row = [i, cfg.canonical, f"{space.size_mb(cfg):.6f}", f"{space.bops(cfg) / 1e9:.6f}", f"{top1:.2f}",
                   origin][:len(columns)]
            append_row(out, row)
            done.add(i)
            if on_row is not None:
                on_row(len(done), len(plan), dict(zip(columns, row)))
    finally:
        measured.close()
    return out

