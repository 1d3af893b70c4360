"""DARTS / NAS-Bench-301 search space in plain torch.

Rebuilds the DARTS CIFAR network (quark0/darts, ``cnn/model.py``
``NetworkCIFAR`` with the ops of ``cnn/operations.py``) the way
NAS-Bench-Suite-Zero built it for its zero-cost scores: NASLib's
``NasBench301SearchSpace`` as of 2022 (commits 6ee70970..936492f9), with
channels 32/64/128, i.e. ``C=32`` and ``layers=8`` cells (normal, normal,
reduction, normal, normal, reduction, normal, normal); NASLib later cut the
default to 16/32/64 (commit a4412f18), but Suite-Zero's ``params`` column
matches 32 exactly. A conv3x3-BN stem with ``3*C`` channels comes first and a
linear classifier after global average pooling last. A cell preprocesses its
two inputs (the outputs of the two previous cells) with ReLU-conv1x1-BN, or
with a factorized reduce when the previous cell halved the resolution; each
of its four nodes sums two ops on earlier states; it outputs the
concatenation of the four nodes.

Departures from ``NetworkCIFAR``, all taken from NASLib so that the networks
(and their parameter counts) are the ones Suite-Zero scored: the cell ops use
BatchNorm without affine parameters and the pooling ops are followed by a
non-affine BatchNorm (DARTS's search-phase ops), while the stem and cell
preprocessing keep affine BatchNorm. No drop-path. The optional auxiliary
head is DARTS's (after cell ``2*layers//3``); Suite-Zero's counts exclude it.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3",
                        "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")
"""Op names by NASLib's compact op index (NASLib ``convert_compact_to_genotype``)."""


class Genotype(NamedTuple):
    """A DARTS genotype: per cell type, 8 ``(op name, input state)`` pairs, two per node."""

    normal: tuple[tuple[str, int], ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[tuple[str, int], ...]
    reduce_concat: tuple[int, ...]


def parse_nb301_arch(text: str) -> Genotype:
    """Parse NASLib's compact encoding ``[[(input, op), ... 8], [(input, op), ... 8]]``.

    The first list is the normal cell, the second the reduction cell; ``op``
    indexes :data:`OPS`, ``input`` is 0/1 for the cell inputs, 2+ for nodes.
    """
    try:
        cells = ast.literal_eval(text.strip())
        normal, reduce = ([(_op_name(op), int(src)) for src, op in cell] for cell in cells)
    except (ValueError, SyntaxError, TypeError) as err:
        raise ValueError(f"invalid NAS-Bench-301 compact arch {text!r}: {err}") from None
    return check_genotype(Genotype(tuple(normal), (2, 3, 4, 5), tuple(reduce), (2, 3, 4, 5)))


def _op_name(index: int) -> str:
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(OPS):
        raise ValueError(f"op index {index!r} is not in 0..{len(OPS) - 1}")
    return OPS[index]


def check_genotype(genotype: Genotype) -> Genotype:
    """Return ``genotype`` if every node has two known ops on earlier states, else ``ValueError``."""
    for cell, concat in ((genotype.normal, genotype.normal_concat), (genotype.reduce, genotype.reduce_concat)):
        if len(cell) % 2 or not cell:
            raise ValueError(f"a DARTS cell needs two (op, input) pairs per node, got {cell!r}")
        for k, (op, src) in enumerate(cell):
            if op not in OPS or not 0 <= src < k // 2 + 2:
                raise ValueError(f"bad DARTS edge {(op, src)!r} for node {k // 2 + 2}; ops are {OPS}")
        if not concat or any(not 0 <= i < len(cell) // 2 + 2 for i in concat):
            raise ValueError(f"bad DARTS concat {concat!r}")
    return genotype


class ReLUConvBN(nn.Sequential):
    """ReLU -> 1x1 Conv2d (no bias) -> BatchNorm2d: a cell's input preprocessing."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    """ReLU -> depthwise (dilated) conv -> pointwise conv -> BatchNorm2d."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int,
                 dilation: int, affine: bool) -> None:
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out, affine=affine))


class SepConv(nn.Sequential):
    """Two stacked :class:`DilConv` with dilation 1 (only the first one strided)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool) -> None:
        super().__init__(DilConv(c_in, c_in, kernel, stride, padding, 1, affine),
                         DilConv(c_in, c_out, kernel, 1, padding, 1, affine))


class FactorizedReduce(nn.Module):
    """Halve the resolution: two offset stride-2 1x1 convs, concatenated, then BatchNorm2d."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


def _make_op(name: str, channels: int, stride: int) -> nn.Module:
    """One cell edge as NASLib builds it (non-affine BatchNorm, see module docstring)."""
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, 1), nn.BatchNorm2d(channels, affine=False))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, 1, count_include_pad=False),
                             nn.BatchNorm2d(channels, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, affine=False)
    kernel = 3 if name.endswith("3x3") else 5
    if name.startswith("sep_conv"):
        return SepConv(channels, channels, kernel, stride, kernel // 2, affine=False)
    return DilConv(channels, channels, kernel, stride, kernel - 1, 2, affine=False)


class Cell(nn.Module):
    """A DARTS cell: node ``i`` = op(state) + op(state); output = concat of the chosen nodes."""

    def __init__(self, genotype: Genotype, c_prev_prev: int, c_prev: int, channels: int,
                 reduction: bool, reduction_prev: bool) -> None:
        super().__init__()
        self.preprocess0 = (FactorizedReduce(c_prev_prev, channels) if reduction_prev
                            else ReLUConvBN(c_prev_prev, channels))
        self.preprocess1 = ReLUConvBN(c_prev, channels)
        edges = genotype.reduce if reduction else genotype.normal
        self.concat = genotype.reduce_concat if reduction else genotype.normal_concat
        self.indices = [src for _, src in edges]
        self.edge_ops = nn.ModuleList(_make_op(op, channels, 2 if reduction and src < 2 else 1)
                                      for op, src in edges)
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(0, len(self.indices), 2):
            a = self.edge_ops[i](states[self.indices[i]])
            states.append(a + self.edge_ops[i + 1](states[self.indices[i + 1]]))
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS's CIFAR auxiliary classifier (expects 8x8 inputs)."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(), nn.AvgPool2d(5, stride=3, count_include_pad=False),
            nn.Conv2d(channels, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU())
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """The DARTS CIFAR macro network.

    ``forward`` returns logits, or ``(logits, auxiliary logits)`` in train mode
    when built with the auxiliary head (as DARTS's training loop expects).
    """

    def __init__(self, genotype: Genotype, C: int, layers: int, num_classes: int, auxiliary: bool) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 3 * C, 3, padding=1, bias=False), nn.BatchNorm2d(3 * C))
        c_prev_prev, c_prev, channels = 3 * C, 3 * C, C
        self.cells = nn.ModuleList()
        self.aux_after = 2 * layers // 3 if auxiliary else None
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            channels *= 2 if reduction else 1
            cell = Cell(genotype, c_prev_prev, c_prev, channels, reduction, reduction_prev)
            self.cells.append(cell)
            c_prev_prev, c_prev, reduction_prev = c_prev, cell.multiplier * channels, reduction
            if i == self.aux_after:
                self.auxiliary_head = AuxiliaryHead(c_prev, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1)
            if i == self.aux_after and self.training:
                aux = self.auxiliary_head(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return logits if aux is None else (logits, aux)

    def probe_block_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The outputs of the stem, then of every cell (each reads the two outputs before it)."""
        s0 = s1 = self.stem(x)
        outs = [s1]
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
            outs.append(s1)
        return outs


def build_darts(genotype: Genotype | Sequence, C: int = 32, layers: int = 8, num_classes: int = 10,
                auxiliary: bool = False) -> nn.Module:
    """Build the DARTS network for a :class:`Genotype` (or a compact string, see :func:`parse_nb301_arch`).

    Defaults are NAS-Bench-Suite-Zero's NAS-Bench-301 settings (channels
    32/64/128 over 8 cells); the DARTS paper's evaluation network is
    ``C=36, layers=20``.
    """
    for name, value in (("C", C), ("layers", layers), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return DartsNetwork(_as_genotype(genotype), C, layers, num_classes, auxiliary)


def _as_genotype(genotype: Genotype | str | Sequence) -> Genotype:
    """A checked :class:`Genotype` from itself, a compact string or any DARTS-style 4-tuple."""
    if isinstance(genotype, str):
        return parse_nb301_arch(genotype)
    try:
        normal, normal_concat, reduce, reduce_concat = genotype
        return check_genotype(Genotype(
            tuple((str(op), int(src)) for op, src in normal), tuple(int(i) for i in normal_concat),
            tuple((str(op), int(src)) for op, src in reduce), tuple(int(i) for i in reduce_concat)))
    except (TypeError, ValueError) as err:
        raise ValueError(f"invalid DARTS genotype {genotype!r}: {err}") from None
