"""Graph-level probe helpers: exact rescaling for products over depth (synflow on 1,000+-layer
networks), and seeing every ReLU a forward runs (NASWOT), functional ones included.

Synflow's |W| network multiplies weights along every path, so its gradients pass float64's range
(1e308) at a few hundred layers. That network is positively homogeneous in its activations (ReLU,
convolutions, sums, pooling, BN at initialisation): dividing the activation at a *cut point*, a
node that every path from input to output passes through, by a constant divides the output and
every weight gradient by that same constant. :func:`rescaled_net` traces the network with
``torch.fx``, finds the cut points as the dominators of the output (networkx), and divides each by
its own largest magnitude; the log of the total factor comes back beside the gradients, so
``log(synflow) = log(synflow of the rescaled network) + factor`` exactly. An additive shift before
the last layer (a trained BN's running mean, a conv bias) makes it an approximation; it is used
only where the plain pass overflows.
"""
from __future__ import annotations

import networkx as nx
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode


def _cut_points(graph: fx.Graph) -> set[str]:
    """Names of the nodes every input-to-output path passes through (the input excluded)."""
    nodes = list(graph.nodes)
    inputs = [n for n in nodes if n.op == "placeholder"]
    outputs = [n for n in nodes if n.op == "output"]
    if len(inputs) != 1 or len(outputs) != 1:
        return set()
    dag = nx.DiGraph((n.name, u.name) for n in nodes for u in n.users)
    src, v = inputs[0].name, outputs[0].name
    if src not in dag or v not in dag:
        return set()
    dominators = nx.immediate_dominators(dag, src)
    cuts = set()
    while v != src and v in dominators:
        v = dominators[v]
        cuts.add(v)
    return cuts - {src}


class _Scales:
    """Divides a tensor by its largest magnitude and keeps the log of each divisor."""

    def __init__(self) -> None:
        self.logs: list[torch.Tensor] = []

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            return t
        s = t.detach().abs().amax()
        s = torch.where(torch.isfinite(s) & (s > 0), s, torch.ones_like(s))
        self.logs.append(torch.log(s))
        return t / s

    def total(self) -> float:
        return float(sum(self.logs)) if self.logs else 0.0


def rescaled_net(net: nn.Module) -> tuple[nn.Module, _Scales] | None:
    """``net`` with every cut point divided by its magnitude (same parameters, same hooks), and the
    record of the divisors; None when the network cannot be traced or has no cut point."""
    try:
        gm = fx.symbolic_trace(net)
    except Exception:  # noqa: BLE001  (data-dependent control flow: no exact rescaling for it)
        return None
    cuts = _cut_points(gm.graph)
    if not cuts:
        return None
    scales = _Scales()

    def rescale(t):
        return scales(t)
    for node in list(gm.graph.nodes):
        if node.name in cuts and node.op in ("call_module", "call_function", "call_method"):
            with gm.graph.inserting_after(node):
                scaled = gm.graph.call_function(rescale, (node,))
            node.replace_all_uses_with(scaled, delete_user_cb=lambda user, s=scaled: user is not s)
    gm.recompile()
    return gm, scales


RELUS = frozenset({F.relu, F.relu_, torch.relu, torch.relu_, torch.Tensor.relu, torch.Tensor.relu_})


class ReluInputs(TorchFunctionMode):
    """Calls ``on_input(x)`` with the input of every ReLU run inside it: ``nn.ReLU`` modules and
    ``torch.relu`` / ``F.relu`` / ``x.relu()`` calls alike, before an in-place one overwrites it."""

    def __init__(self, on_input) -> None:
        super().__init__()
        self.on_input = on_input

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in RELUS and args and isinstance(args[0], torch.Tensor):
            self.on_input(args[0])
        return func(*args, **(kwargs or {}))
