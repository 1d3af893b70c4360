"""A proxy scored on quantized networks of one reference network, one bit configuration at a time
(memoised per configuration; NaN/inf ranks lowest). The allocation GA maximises it.

A set-level proxy (an evolved ensemble: a sum of log-ranks) ranks a configuration among others; here
among a fixed *reference* set of configurations (a budget stratum's): its score is what the ensemble
gives the configuration ranked among the reference ones, the same for every GA generation and seed.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
import torch

from evoproxy.errors import EvoproxyError
from evoproxy.lang.program import Program
from evoproxy.lang.ranks import all_network_parts, combine, is_set_level
from evoproxy.scoring.score import score_network
from evoproxy.spaces.bitconfig import BitConfig
from evoproxy.spaces.quantized import CALIBRATION_FREE


class ProxyScorer:
    """Scores a program on quantized networks of one reference, one configuration at a time."""

    def __init__(self, program: Program, quantize: Callable[[BitConfig, bool], torch.nn.Module],
                 x: torch.Tensor, y: torch.Tensor, seed: int = 0, reference: Sequence[BitConfig] = ()) -> None:
        if is_set_level(program) and not reference:
            raise EvoproxyError("a set-level proxy (an ensemble of ranks) scores a configuration among others: "
                                "give reference configurations (a budget stratum's) to rank it among")
        self.program, self.quantize, self.x, self.y, self.seed = program, quantize, x, y, seed
        self.parts = all_network_parts([program])
        self.calibrate = not program.stats <= CALIBRATION_FREE
        self.reference = list(reference) if is_set_level(program) else []
        self.reference_parts: np.ndarray | None = None
        self.memo: dict[str, float] = {}

    def _parts(self, cfg: BitConfig) -> np.ndarray:
        net = self.quantize(cfg, self.calibrate)
        return np.asarray(score_network(net, self.parts, self.x, self.y, self.seed), dtype=np.float64)

    def __call__(self, cfg: BitConfig) -> float:
        if cfg.canonical not in self.memo:
            column = self._parts(cfg)
            if self.reference:
                if self.reference_parts is None:
                    self.reference_parts = np.column_stack([self._parts(r) for r in self.reference])
                matrix = np.column_stack([self.reference_parts, column])
                score = float(combine([self.program], self.parts, matrix)[0, -1])
            else:
                score = float(column[0])
            self.memo[cfg.canonical] = score if math.isfinite(score) else -math.inf
        return self.memo[cfg.canonical]
