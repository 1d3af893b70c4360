"""A synthetic benchmark whose "accuracy" is a known formula (``synthetic``).

Every architecture is a small CNN whose configuration follows from its id alone (see
:func:`config_of`). Its ground truth is **not** a training result: it is the target program
(default ``layer_sum(l2(grad))``) evaluated on the statistics evoproxy's own probe collects
for that network, on one fixed synthetic probe batch, with the network initialised exactly
as :func:`evoproxy.scoring.score.score_arch` does (``torch.manual_seed(seed)`` right before
``build``). A search that probes these networks with the same batch and seed therefore sees
the very statistics the ground truth was computed from, so the target formula ranks them
perfectly (Kendall 1.0) and an end-to-end test can check that evolution recovers it.

The search **must** probe with :meth:`SyntheticBenchmark.probe_batch` and init seed
:attr:`SyntheticBenchmark.probe_seed` (optional hooks any benchmark may implement; the
worker honours both); another batch or seed gives other statistics and the target no longer
ranks perfectly. No data files are needed.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import numpy as np
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.data.images import ProbeBatch, synthetic_batch
from evoproxy.lang.program import Program, check_proxy, parse
from evoproxy.scoring.score import score_arch

from .base import TableBenchmark

DEFAULT_TARGET = "layer_sum(l2(grad))"
NUM_CLASSES = 10
CHANNELS = (4, 8, 12, 16)
KERNELS = (1, 3)
STRIDES = (1, 2)
DEPTH_PROBS = (0.1, 0.3, 0.6)  # 1, 2 or 3 conv stages; deep nets dominate so configs rarely repeat
REGISTRY_METRICS = ("test_200ep", "target")
"""``metric`` values the registry factory reads as "use the default target"."""


def config_of(arch_id: int) -> dict:
    """The configuration of ``arch_id``, drawn from ``numpy.random.default_rng(arch_id)``.

    ``{"stages": [{"channels": c, "kernel": k, "stride": s, "bn": b}, ...]}`` with 1-3 stages,
    ``c`` in 4/8/12/16, ``k`` in 1/3, ``s`` in 1/2 and ``b`` a bool. Depends on the id only (not on
    ``n_archs`` or any seed); a fresh dict is returned on each call.
    """
    rng = np.random.default_rng(int(arch_id))
    depth = int(rng.choice(len(DEPTH_PROBS), p=DEPTH_PROBS)) + 1
    stages = [{"channels": int(rng.choice(CHANNELS)), "kernel": int(rng.choice(KERNELS)),
               "stride": int(rng.choice(STRIDES)), "bn": bool(rng.integers(2))}
              for _ in range(depth)]
    return {"stages": stages}


def build_config(config: dict, num_classes: int = NUM_CLASSES) -> nn.Module:
    """conv[-BN]-ReLU per stage, then AdaptiveAvgPool2d(1), Flatten, Linear(-> num_classes)."""
    layers: list[nn.Module] = []
    c_in = 3
    for st in config["stages"]:
        c, k = st["channels"], st["kernel"]
        layers.append(nn.Conv2d(c_in, c, k, stride=st["stride"], padding=k // 2, bias=not st["bn"]))
        if st["bn"]:
            layers.append(nn.BatchNorm2d(c))
        layers.append(nn.ReLU())
        c_in = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes)]
    return nn.Sequential(*layers)


def _describe(config: dict) -> str:
    return " -> ".join(f"conv{s['kernel']}x{s['kernel']}({s['channels']}, s{s['stride']}"
                       f"{', bn' if s['bn'] else ''})" for s in config["stages"]) + " -> pool -> fc"


class SyntheticBenchmark(TableBenchmark):
    """Small CNNs with a formula as ground truth; implements :class:`evoproxy.benchmarks.base.Benchmark`.

    ``target``: a whole-network formula (text or :class:`Program`). ``n_archs``: ids are
    ``0..n_archs-1``. ``split_seed``: the search/holdout permutation. ``probe_batch``: size of the
    fixed synthetic batch; ``seed``: its seed and the init/probe seed of every network.
    """

    name = "synthetic"
    num_classes = NUM_CLASSES

    def __init__(self, target: Union[str, Program] = DEFAULT_TARGET, n_archs: int = 200,
                 split_seed: int = 0, probe_batch: int = 8, seed: int = 0):
        self.target = check_proxy(parse(target) if isinstance(target, str) else target)
        if not isinstance(n_archs, (int, np.integer)) or n_archs < 2:
            raise EvoproxyError(f"synthetic: n_archs must be an integer >= 2, got {n_archs!r}")
        if not isinstance(probe_batch, (int, np.integer)) or probe_batch < 1:
            raise EvoproxyError(f"synthetic: probe_batch must be a positive integer, got {probe_batch!r}")
        super().__init__(range(int(n_archs)), split_seed)
        self.n_archs = int(n_archs)
        self.probe_size, self.seed = int(probe_batch), seed
        self.label = (f"SYNTHETIC benchmark: accuracy = {self.target.text} on a fixed probe batch "
                      f"({self.probe_size} synthetic images, seed {seed}; not a real training result)")
        self._batch: Optional[ProbeBatch] = None

    def probe_batch(self) -> ProbeBatch:
        """The fixed batch the ground truth is computed on; a search must probe with it."""
        if self._batch is None:
            self._batch = synthetic_batch(self.probe_size, self.seed,
                                          why="the synthetic benchmark's own probe batch")
        return self._batch

    @property
    def probe_seed(self) -> int:
        """The init seed the ground truth used; a search must build networks with it."""
        return self.seed

    def config_of(self, arch_id: int) -> dict:
        """The configuration of ``arch_id`` (see the module function :func:`config_of`)."""
        return config_of(self._check(arch_id))

    def arch_of(self, arch_id: int) -> str:
        """A one-line description of the network, e.g. ``conv3x3(8, s1, bn) -> pool -> fc``."""
        return _describe(self.config_of(arch_id))

    def build(self, arch_id: int) -> nn.Module:
        return build_config(self.config_of(arch_id), self.num_classes)

    def network_key(self, arch_id: int) -> str:
        return f"{self.name}:{self.num_classes}:{self._check(arch_id)}"

    def accuracy(self, arch_id: int) -> float:
        """The target formula on this network's probe statistics (computed once, then cached).

        Scored through :func:`evoproxy.scoring.score.score_arch`, i.e. exactly as a search scores it.
        """
        i = self._check(arch_id)
        hit = self._acc.get(i)
        if hit is None:
            batch = self.probe_batch()
            hit = score_arch(lambda: self.build(i), [self.target], batch.x, batch.y, seed=self.seed)[0]
            if not math.isfinite(hit):
                raise EvoproxyError(f"{self.name}: target {self.target.text} is not finite ({hit}) on "
                                    f"arch {i} ({self.arch_of(i)}); choose another target formula")
            self._acc[i] = hit
        return hit


def load_synthetic(data_dir: Optional[Union[str, Path]] = None, split_seed: int = 0,
                   metric: str = "test_200ep") -> SyntheticBenchmark:
    """Registry factory. ``data_dir`` is ignored (no files needed).

    ``split_seed`` also serves as the probe-batch and init seed, as the CLI uses one ``--seed``
    for the split, the probe batch and the init: ``eval --benchmark synthetic --probe synthetic
    --batch-size 8 --seed S`` then probes exactly the ground truth's statistics. ``metric``: the
    registry default (``test_200ep``) or ``target`` selects :data:`DEFAULT_TARGET`; any other
    value is read as the target formula itself.
    """
    target = DEFAULT_TARGET if metric is None or metric in REGISTRY_METRICS else metric
    try:
        program = check_proxy(parse(target))
    except EvoproxyError as err:
        raise EvoproxyError(f"synthetic benchmark: metric must be {' or '.join(REGISTRY_METRICS)} "
                            f"or a whole-network target formula; {metric!r} is not ({err})") from None
    return SyntheticBenchmark(program, split_seed=split_seed, seed=split_seed)


__all__ = ["SyntheticBenchmark", "load_synthetic", "config_of", "build_config", "DEFAULT_TARGET"]
