"""Exports of a program: LaTeX, sympy, a networkx DAG (shared subexpressions merged), DOT."""
from __future__ import annotations

import networkx as nx

from evoproxy.lang.ops import OPS, sympy_function
from evoproxy.lang.program import Program
from evoproxy.lang.stats import STATS


def to_latex(p: Program) -> str:
    if p.is_const:
        return f"{p.value:g}"
    if p.is_stat:
        return STATS.get(p.head).latex
    return OPS.get(p.head).latex.format(*(to_latex(a) for a in p.args))


def to_sympy(p: Program):
    """A sympy expression; ops without an exact sympy form become undefined functions."""
    import sympy

    if p.is_const:
        return sympy.Float(p.value)
    if p.is_stat:
        return sympy.Symbol(p.head)
    return sympy_function(OPS.get(p.head))(*(to_sympy(a) for a in p.args))


def to_networkx(p: Program) -> nx.DiGraph:
    """Nodes are distinct subexpressions (keyed by text); edges run from argument to user."""
    g = nx.DiGraph()
    for node in p.nodes():
        label = node.text if not node.args else node.head
        g.add_node(node.text, label=label, type=str(node.vtype))
        for i, arg in enumerate(node.args):
            g.add_edge(arg.text, node.text, arg=i)
    return g


def to_dot(p: Program) -> str:
    g = to_networkx(p)
    ids = {n: f"n{i}" for i, n in enumerate(g.nodes)}
    lines = ["digraph proxy {", "  rankdir=BT;"]
    for n, data in g.nodes(data=True):
        lines.append(f'  {ids[n]} [label="{data["label"]}\\n{data["type"]}"];')
    for a, b in g.edges:
        lines.append(f"  {ids[a]} -> {ids[b]};")
    lines.append("}")
    return "\n".join(lines)
