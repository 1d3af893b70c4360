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

PathLike = Union[str, os.PathLike]
COLUMNS = ("id", "config", "size_mb", "bops_g", "top1")
POOL_PER_CONFIG = 40


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
    pool = []
    for _ in range(POOL_PER_CONFIG * k):
        p = rng.dirichlet(np.ones(len(space.choices)))
        bits = [space.fixed_bits(i) or int(rng.choice(space.choices, p=p)) for i in range(space.n_layers)]
        pool.append(BitConfig(tuple(bits)))
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


def read_rows(path: Path) -> list[dict]:
    """Rows of a table CSV (``id``, ``config``, ``size_mb``, ``bops_g``, ``top1``)."""
    return read_table(path, COLUMNS, "an MQ table")


def _provenance(method: MQMethod, k: int, seed: int, checkpoint: Path, sha: str, command: str) -> dict:
    return {"benchmark": f"mq-{method.model}-cifar10", "configs": k, "seed": seed,
            "checkpoint": checkpoint.name, "checkpoint_sha256": sha, "method": asdict(method),
            "command": command, "torch": torch.__version__}


def build_mq_table(out: PathLike, k: int, checkpoint: PathLike, seed: int = 0,
                   method: MQMethod = MQMethod(), data_dir: Optional[PathLike] = None,
                   command: str = "", on_row: Optional[Callable[[int, int, dict], None]] = None) -> Path:
    """Build (or continue) the table at ``out``; returns its path. ``on_row(done, total, row)``."""
    from evoproxy.data.images import normalise
    from evoproxy.spaces.quantized import quantize_model
    from evoproxy.training.loop import evaluate_accuracy
    from evoproxy.data.cifar import load_cifar10


    out, checkpoint = Path(out), Path(checkpoint)
    model, sha = load_reference(checkpoint, method.model)
    prov = _provenance(method, k, seed, checkpoint, sha, command)
    done = resume_table(out, prov, COLUMNS, "an MQ table")
    space = BitSpace(model, method.choices, method.first_last_bits)
    plan = plan_configs(space, k, seed)
    x_test, y_test = load_cifar10("test", data_dir, limit=method.test_limit, seed=seed)
    calib_x = normalise(load_cifar10("train", data_dir, limit=method.calib_images, seed=method.calib_seed)[0])
    for i, cfg in enumerate(plan):
        if i in done:
            continue
        qnet = quantize_model(model, cfg, calib_x, method.bn_reestimate, reference_key=sha[:16])
        with torch.inference_mode():
            top1 = evaluate_accuracy(qnet, x_test, y_test, batch_size=100)
        row = [i, cfg.canonical, f"{space.size_mb(cfg):.6f}", f"{space.bops(cfg) / 1e9:.6f}", f"{top1:.2f}"]
        append_row(out, row)
        done.add(i)
        if on_row is not None:
            on_row(len(done), len(plan), dict(zip(COLUMNS, row)))
    return out

