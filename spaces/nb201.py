"""NAS-Bench-201 / NATS-Bench topology search space in plain torch.

Rebuilds each network as the benchmark trained it (xautodl's ``TinyNetwork``
with ``InferCell`` cells): stem conv3x3+BN, three stages of ``N`` cells with
``C``, ``2C``, ``4C`` channels joined by ResNet basic reduction blocks, then
BN+ReLU, global average pooling and a linear classifier. Submodule names
mirror xautodl's so ``state_dict`` keys line up with the benchmark's code.

An architecture is a cell: 4 nodes, node ``j`` = sum over ``i < j`` of
``op_{j,i}(node_i)``. It is written either as an arch string
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` or as NASLib's 6-digit op-index string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import torch
from torch import nn

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The five candidate operations, in NAS-Bench-201's order."""

NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
"""Op names by NASLib op index (digit ``d`` means ``NASLIB_OPS[d]``)."""

# NASLib's edge order (1->2, 1->3, 1->4, 2->3, 2->4, 3->4; node 1 = input),
# as 0-based (target node, source node) pairs.
_NASLIB_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))

Arch = tuple[tuple[str, ...], ...]
"""Per-node tuples of incoming op names: ((op1<-0,), (op2<-0, op2<-1), (op3<-0, op3<-1, op3<-2))."""

ArchSpec = Union[str, Sequence[Sequence[str]]]

_FORMS = (
    "expected an arch string like '|nor_conv_3x3~0|+|none~0|skip_connect~1|+"
    "|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|', NASLib's 6 op-index digits "
    "0-4 like '023231', or per-node op-name tuples"
)


def _invalid(what: str) -> ValueError:
    return ValueError(f"invalid NAS-Bench-201 arch: {what}; {_FORMS}")


def parse_arch(spec: ArchSpec) -> Arch:
    """Parse an arch string, a NASLib 6-digit op-index string or op tuples.

    Returns per-node tuples of incoming op names (see :data:`Arch`).
    Raises ``ValueError`` for anything else, including integer benchmark
    indices, which the benchmark layer must resolve first.
    """
    if isinstance(spec, (bool, int)):
        raise _invalid(f"got integer {spec!r} (benchmark indices are resolved by the benchmark layer)")
    if isinstance(spec, str):
        text = spec.strip()
        if len(text) == 6 and text.isdigit():
            return _from_op_indices(text)
        return _from_arch_string(text)
    if isinstance(spec, Sequence):
        return _check_ops(spec)
    raise _invalid(f"unsupported type {type(spec).__name__}")


def _from_op_indices(digits: str) -> Arch:
    if any(d not in "01234" for d in digits):
        raise _invalid(f"op-index digits must be 0-4, got {digits!r}")
    nodes: list[list[str]] = [[""] * (j + 1) for j in range(3)]
    for d, (dst, src) in zip(digits, _NASLIB_EDGES):
        nodes[dst - 1][src] = NASLIB_OPS[int(d)]
    return tuple(tuple(n) for n in nodes)


def _from_arch_string(text: str) -> Arch:
    parts = text.split("+")
    if len(parts) != 3:
        raise _invalid(f"{text!r} has {len(parts)} '+'-separated nodes, need 3")
    return tuple(_parse_node(part, j + 1) for j, part in enumerate(parts))


def _parse_node(part: str, n_in: int) -> tuple[str, ...]:
    """Parse one node ``|op~0|op~1|`` that must take inputs ``0..n_in-1``."""
    if len(part) < 2 or part[0] != "|" or part[-1] != "|":
        raise _invalid(f"node {part!r} must be enclosed in '|'")
    by_src: dict[int, str] = {}
    for item in part[1:-1].split("|"):
        op, sep, src = item.partition("~")
        if not sep or not src.isdigit() or op not in OPS:
            raise _invalid(f"bad edge {item!r}, need '<op>~<input>' with op in {OPS}")
        by_src[int(src)] = op
    if sorted(by_src) != list(range(n_in)) or len(by_src) != part.count("~"):
        raise _invalid(f"node {part!r} must take each of inputs 0..{n_in - 1} exactly once")
    return tuple(by_src[i] for i in range(n_in))


def _check_ops(ops: Sequence[Sequence[str]]) -> Arch:
    if len(ops) != 3 or any(isinstance(n, str) or len(n) != j + 1 for j, n in enumerate(ops)):
        raise _invalid("op tuples must have shape (1, 2, 3) for nodes 1..3")
    for node in ops:
        for op in node:
            if op not in OPS:
                raise _invalid(f"unknown op {op!r}, choose from {OPS}")
    return tuple(tuple(n) for n in ops)


def arch_str(ops: ArchSpec) -> str:
    """Canonical NAS-Bench-201 arch string, e.g. ``|nor_conv_3x3~0|+|...|``."""
    nodes = parse_arch(ops)
    return "+".join("|" + "".join(f"{op}~{i}|" for i, op in enumerate(n)) for n in nodes)


def op_indices(ops: ArchSpec) -> str:
    """NASLib's 6-digit op-index string (edge order 1->2,1->3,1->4,2->3,2->4,3->4)."""
    nodes = parse_arch(ops)
    return "".join(str(NASLIB_OPS.index(nodes[dst - 1][src])) for dst, src in _NASLIB_EDGES)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d(bias=False) -> BatchNorm2d(affine, tracked stats)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Zero(nn.Module):
    """The ``none`` op: multiplies by zero (keeps shape, dtype and graph)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _make_op(name: str, channels: int) -> nn.Module:
    """One cell edge; in-cell edges always keep channels and stride 1."""
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise _invalid(f"unknown op {name!r}")


class Cell(nn.Module):
    """NAS-Bench-201 inference cell: node j sums ops applied to nodes i < j."""

    def __init__(self, arch: Arch, channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(_make_op(op, channels) for node in arch for op in node)
        self._inputs: list[list[tuple[int, int]]] = []  # per node: (layer index, source node)
        k = 0
        for node in arch:
            self._inputs.append([(k + i, i) for i in range(len(node))])
            k += len(node)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for edges in self._inputs:
            out = self.layers[edges[0][0]](nodes[edges[0][1]])
            for k, i in edges[1:]:
                out = out + self.layers[k](nodes[i])
            nodes.append(out)
        return nodes[-1]


class ResNetBasicblock(nn.Module):
    """Stride-2 reduction block between stages (as in NAS-Bench-201)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 macro network; ``forward`` returns logits only."""

    def __init__(self, arch: Arch, num_classes: int, C: int, N: int) -> None:
        super().__init__()
        self.arch = arch_str(arch)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        cells: list[nn.Module] = []
        for stage, width in enumerate((C, 2 * C, 4 * C)):
            if stage:
                cells.append(ResNetBasicblock(width // 2, width))
            cells.extend(Cell(arch, width) for _ in range(N))
        self.cells = nn.ModuleList(cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = cell(x)
        x = self.global_pooling(self.lastact(x))
        return self.classifier(x.flatten(1))

    def probe_blocks(self) -> list[nn.Module]:
        """The stages block statistics read (AZ-NAS's features): the stem, then every cell."""
        return [self.stem, *self.cells]

    def extra_repr(self) -> str:
        return f"arch={self.arch}"


def build_nb201(spec: ArchSpec, num_classes: int = 10, C: int = 16, N: int = 5) -> nn.Module:
    """Build the NAS-Bench-201 network for ``spec`` (see :func:`parse_arch`).

    Benchmark settings: ``num_classes`` 10 (cifar10), 100 (cifar100) or 120
    (ImageNet16-120), with ``C=16, N=5``. Weights use torch's default init.
    """
    for name, value in (("num_classes", num_classes), ("C", C), ("N", N)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    return NB201Network(parse_arch(spec), num_classes, C, N)


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not; buffers excluded)."""
    return sum(p.numel() for p in model.parameters())


def graph_features(spec: ArchSpec) -> dict[str, float]:
    """GRAF-style features of a cell (Kadlecova et al., ICML 2024): how many edges carry each op, how
    many input->output paths carry information (no ``none``) and how many of those pass a convolution,
    and the shortest and longest such path in convolutions."""
    arch = parse_arch(spec)
    out = {f"count_{op}": float(sum(op == o for node in arch for o in node)) for op in OPS}
    paths: list[tuple[str, ...]] = []

    def walk(node: int, ops: tuple[str, ...]) -> None:   # backwards from the output (node 3)
        if node == 0:
            paths.append(ops)
            return
        for src, op in enumerate(arch[node - 1]):
            if op != "none":
                walk(src, ops + (op,))
    walk(3, ())
    convs = [sum(op.startswith("nor_conv") for op in p) for p in paths]
    out.update(paths=float(len(paths)), conv_paths=float(sum(c > 0 for c in convs)),
               min_conv_depth=float(min(convs, default=0)), max_conv_depth=float(max(convs, default=0)))
    return out
