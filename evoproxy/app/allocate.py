"""``evoproxy allocate``: bit allocation (:mod:`evoproxy.allocation`) and the real top-1 of what it chose."""
from __future__ import annotations

from evoproxy.allocation import Allocation, ProxyScorer, allocate, mixed_uniform, uniform_within

__all__ = ["Allocation", "ProxyScorer", "allocate", "mixed_uniform", "uniform_within"]
