"""NAS-Bench-101 search space in plain torch.

Rebuilds each network as NAS-Bench-101 defines it (google-research/nasbench,
``nasbench/lib/model_builder.py`` and ``base_ops.py``), at the size the
benchmark trained and NAS-Bench-Suite-Zero scored (NASLib builds it through
the ``nasbench_pytorch`` port with ``stem_out_channels=128, num_stacks=3,
num_modules_per_stack=3``): a conv3x3-BN-ReLU stem with 128 channels, three
stacks of three cells, a 2x2 max-pool before stacks 2 and 3 that also doubles
the cell width, then global average pooling and a linear classifier.

A cell is a DAG of up to 7 vertices given by an upper-triangular adjacency
matrix and one op per vertex (``input``, ``conv3x3-bn-relu``,
``conv1x1-bn-relu``, ``maxpool3x3``, ..., ``output``). Vertices that do not
lie on an input-to-output path are pruned first, as nasbench's ``ModelSpec``
does. Inside a cell, a vertex sums its inputs (edges from the cell input go
through a 1x1 conv-BN-ReLU projection, edges from other vertices are
truncated to the vertex's width); the output concatenates the vertices that
feed it and adds a projection of the cell input when that edge exists.

Weights start as NASLib's model starts them (``nasbench_pytorch``'s
``_initialize_weights``): He-normal over fan-out for convolutions, N(0, 0.01)
for the classifier, zero biases, BatchNorm scale 1 and shift 0. Departure:
BatchNorm keeps torch's momentum 0.1 (the TensorFlow original used decay 0.997,
i.e. momentum 0.003). Parameter counts equal the benchmark's (conv weights without bias,
BatchNorm affine, linear weight and bias).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

INPUT, OUTPUT = "input", "output"
CELL_OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
"""The interior vertex ops of NAS-Bench-101."""

NASLIB_OP_CODES: tuple[str, ...] = (INPUT, OUTPUT, "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
"""Op names by NASLib's op code (the last 7 numbers of its tuple encoding)."""

Matrix = list[list[int]]


def parse_nb101_arch(text: str) -> tuple[Matrix, list[str]]:
    """Parse NASLib's tuple string: ``n*n`` adjacency entries (row-major), then ``n`` op codes.

    Returns the unpruned ``(matrix, ops)``; :func:`build_nb101` prunes.
    """
    try:
        values = [int(v) for v in text.strip().strip("()").split(",") if v.strip()]
    except ValueError as err:
        raise ValueError(f"invalid NAS-Bench-101 arch {text!r}: {err}") from None
    n = next((k for k in range(2, 8) if k * k + k == len(values)), None)
    if n is None:
        raise ValueError(f"invalid NAS-Bench-101 arch {text!r}: need n*n + n numbers, got {len(values)}")
    if any(code not in range(len(NASLIB_OP_CODES)) for code in values[n * n:]):
        raise ValueError(f"invalid NAS-Bench-101 arch {text!r}: op codes must be 0-{len(NASLIB_OP_CODES) - 1}")
    matrix = [values[i * n:(i + 1) * n] for i in range(n)]
    return matrix, [NASLIB_OP_CODES[code] for code in values[n * n:]]


def _check_spec(matrix: Matrix, ops: Sequence[str]) -> None:
    n = len(matrix)
    if n < 2 or any(len(row) != n for row in matrix) or len(ops) != n:
        raise ValueError(f"NAS-Bench-101 spec needs a square n x n matrix (n >= 2) and n ops, got {matrix!r}, {ops!r}")
    if any(v not in (0, 1) for row in matrix for v in row):
        raise ValueError("NAS-Bench-101 adjacency entries must be 0 or 1")
    if any(matrix[i][j] for i in range(n) for j in range(i + 1)):
        raise ValueError("NAS-Bench-101 adjacency matrix must be strictly upper triangular")
    if ops[0] != INPUT or ops[-1] != OUTPUT or any(op not in CELL_OPS for op in ops[1:-1]):
        raise ValueError(f"NAS-Bench-101 ops must be 'input', then {CELL_OPS}, then 'output'; got {list(ops)}")


def _reachable(matrix: Matrix, start: int, forward: bool) -> set[int]:
    n, seen, frontier = len(matrix), {start}, [start]
    while frontier:
        top = frontier.pop()
        nxt = [v for v in range(n) if (matrix[top][v] if forward else matrix[v][top])]
        for v in nxt:
            if v not in seen:
                seen.add(v)
                frontier.append(v)
    return seen


def prune(matrix: Sequence[Sequence[int]], ops: Sequence[str]) -> tuple[Matrix, list[str]]:
    """Drop vertices not on an input-to-output path (nasbench ``ModelSpec._prune``).

    Raises ``ValueError`` for a malformed spec or when input does not reach output.
    """
    matrix = [[int(v) for v in row] for row in matrix]
    _check_spec(matrix, ops)
    n = len(matrix)
    keep = sorted(_reachable(matrix, 0, True) & _reachable(matrix, n - 1, False))
    if len(keep) < 2:
        raise ValueError("invalid NAS-Bench-101 spec: the input does not reach the output")
    return [[matrix[i][j] for j in keep] for i in keep], [ops[i] for i in keep]


def vertex_channels(c_in: int, c_out: int, matrix: Matrix) -> list[int]:
    """Width of every vertex (nasbench ``compute_vertex_channels``).

    The output's channels are split among the vertices feeding it (the first
    ones get one extra when it does not divide); any other vertex takes the
    widest of its successors.
    """
    n = len(matrix)
    channels = [c_in] + [0] * (n - 2) + [c_out]
    fan_in = sum(matrix[v][n - 1] for v in range(1, n - 1))
    if fan_in == 0:
        return channels
    base, extra = divmod(c_out, fan_in)
    feeding = [v for v in range(1, n - 1) if matrix[v][n - 1]]
    for k, v in enumerate(feeding):
        channels[v] = base + (k < extra)
    for v in range(n - 3, 0, -1):
        if not matrix[v][n - 1]:
            channels[v] = max(channels[d] for d in range(v + 1, n - 1) if matrix[v][d])
    return channels


class ConvBnRelu(nn.Sequential):
    """Conv2d (no bias, 'same' padding) -> BatchNorm2d -> ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU())


def _make_op(name: str, channels: int) -> nn.Module:
    if name == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1)
    return nn.MaxPool2d(3, stride=1, padding=1)


class Cell(nn.Module):
    """One NAS-Bench-101 module on a pruned spec."""

    def __init__(self, matrix: Matrix, ops: Sequence[str], c_in: int, c_out: int) -> None:
        super().__init__()
        n = len(matrix)
        self.matrix = matrix
        self.channels = vertex_channels(c_in, c_out, matrix)
        self.vertex_ops = nn.ModuleList(_make_op(op, self.channels[t]) for t, op in enumerate(ops[1:-1], 1))
        self.projections = nn.ModuleDict({str(t): ConvBnRelu(c_in, self.channels[t], 1)
                                          for t in range(1, n) if matrix[0][t]})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, m = len(self.matrix), self.matrix
        tensors, concat = [x], []
        for t in range(1, n - 1):
            fan_in = [tensors[s][:, :self.channels[t]] for s in range(1, t) if m[s][t]]
            if m[0][t]:
                fan_in.append(self.projections[str(t)](x))
            total = fan_in[0]
            for extra in fan_in[1:]:
                total = total + extra
            tensors.append(self.vertex_ops[t - 1](total))
            if m[t][n - 1]:
                concat.append(tensors[t])
        if not concat:
            return self.projections[str(n - 1)](x)
        out = concat[0] if len(concat) == 1 else torch.cat(concat, 1)
        return out + self.projections[str(n - 1)](x) if m[0][n - 1] else out


class NB101Network(nn.Module):
    """The NAS-Bench-101 macro network; ``forward`` returns logits."""

    def __init__(self, matrix: Matrix, ops: Sequence[str], num_classes: int,
                 stem_channels: int, stacks: int, cells_per_stack: int) -> None:
        super().__init__()
        self.stem = ConvBnRelu(3, stem_channels, 3)
        layers: list[nn.Module] = []
        c_in = c_out = stem_channels
        for stack in range(stacks):
            if stack:
                layers.append(nn.MaxPool2d(2, stride=2))
                c_out *= 2
            for _ in range(cells_per_stack):
                layers.append(Cell(matrix, ops, c_in, c_out))
                c_in = c_out
        self.layers = nn.Sequential(*layers)
        self.classifier = nn.Linear(c_out, num_classes)
        init_like_naslib(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layers(self.stem(x))
        return self.classifier(x.mean(dim=(2, 3)))

    def probe_blocks(self) -> list[nn.Module]:
        """The stem, then every cell; the max-pool between stacks runs as part of the cell after it."""
        blocks: list[nn.Module] = [self.stem]
        pool = None
        for m in self.layers:
            if isinstance(m, Cell):
                blocks.append(m if pool is None else nn.Sequential(pool, m))
                pool = None
            else:
                pool = m
        return blocks


def init_like_naslib(net: nn.Module) -> None:
    """NASLib's NB101 init: He-normal (fan-out) convolutions, N(0, 0.01) linear weights, zero biases."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                m.weight.normal_(0.0, 0.01)
                m.bias.zero_()


def build_nb101(matrix: Sequence[Sequence[int]], ops: Sequence[str], num_classes: int = 10,
                stem_channels: int = 128, stacks: int = 3, cells_per_stack: int = 3) -> nn.Module:
    """Build the NAS-Bench-101 network for a cell spec (pruned first, see :func:`prune`).

    Defaults are the benchmark's (and NAS-Bench-Suite-Zero's) CIFAR-10 settings.
    """
    for name, value in (("num_classes", num_classes), ("stem_channels", stem_channels),
                        ("stacks", stacks), ("cells_per_stack", cells_per_stack)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    pruned, pruned_ops = prune(matrix, ops)
    return NB101Network(pruned, pruned_ops, num_classes, stem_channels, stacks, cells_per_stack)
