"""The statistics probe: one pass per group of statistics, on a private copy of the network.

``collect(model, x, y, names)`` computes exactly the statistics named (and nothing else).
Passes register into :mod:`.base` in a fixed order: the standard passes, the sample-axis and
ReLU passes, the block / NTK / per-image passes, the Fisher information pass, then quantization, then teacher-student. Only this package installs torch hooks. A user adds a pass with
:func:`evoproxy.probe.base.register_pass` (and its statistics with ``register_stat``).
"""
from evoproxy.probe import base, passes, quant, teacher  # noqa: F401  (order: core, then plugins)
from evoproxy.probe.base import PASSES, LayerRecorder, collect, register_pass

__all__ = ["collect", "register_pass", "PASSES", "LayerRecorder"]
