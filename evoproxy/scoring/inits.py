"""Weight initialisations a network can be re-drawn with before it is probed, for scoring a proxy
in its paper's setting (``evoproxy eval --init``). ``benchmark`` keeps the benchmark's own init.

Each is ``fn(model) -> model`` (in place, drawing from torch's global generator, which the scoring
path seeds per network); add one with ``INITS.add(name, fn)``.
"""
from __future__ import annotations

from torch import nn

from evoproxy.registry import Registry

INITS: Registry = Registry("init")


def kaiming_fan_in(model: nn.Module) -> nn.Module:
    """AZ-NAS's ``kaiming_norm_fanin``: Conv/Linear weights Kaiming-normal (fan-in, ReLU gain),
    their biases 0; affine normalisation layers weight 1, bias 0."""
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model


INITS.add("benchmark", lambda model: model)
INITS.add("kaiming", kaiming_fan_in)
