"""A proxy scored on quantized networks of one reference network, one bit configuration at a time
(memoised per configuration; NaN/inf ranks lowest). The allocation GA maximises it."""
from __future__ import annotations

import math
from typing import Callable

import torch

from evoproxy.lang.program import Program
from evoproxy.scoring.score import score_network
from evoproxy.spaces.bitconfig import BitConfig
from evoproxy.spaces.quantized import CALIBRATION_FREE



class ProxyScorer:
    """Scores a program on quantized networks of one reference, one configuration at a time."""

    def __init__(self, program: Program, quantize: Callable[[BitConfig, bool], torch.nn.Module],
                 x: torch.Tensor, y: torch.Tensor, seed: int = 0) -> None:
        self.program, self.quantize, self.x, self.y, self.seed = program, quantize, x, y, seed
        self.calibrate = not program.stats <= CALIBRATION_FREE
        self.memo: dict[str, float] = {}

    def __call__(self, cfg: BitConfig) -> float:
        if cfg.canonical not in self.memo:
            net = self.quantize(cfg, self.calibrate)
            score = score_network(net, [self.program], self.x, self.y, self.seed)[0]
            self.memo[cfg.canonical] = score if math.isfinite(score) else -math.inf
        return self.memo[cfg.canonical]
