"""Mixed-precision bit allocation: a seeded genetic search (:mod:`.ga`) over per-layer bit widths under
a model-size budget, guided by a proxy scored on the quantized networks (:mod:`.scorer`)."""
from evoproxy.allocation.ga import Allocation, allocate, mixed_uniform, uniform_within
from evoproxy.allocation.scorer import CALIBRATION_FREE, ProxyScorer

__all__ = ["Allocation", "allocate", "mixed_uniform", "uniform_within", "ProxyScorer", "CALIBRATION_FREE"]
