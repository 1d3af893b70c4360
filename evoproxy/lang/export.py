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


def sympy_locals() -> dict:
    """Names for ``sympy.sympify`` to read an exported expression back with evoproxy's own symbols:
    every statistic a Symbol, every op without an exact sympy form an undefined Function (so
    ``max``, ``sum`` or ``log`` stay evoproxy's ops, never Python's builtins or sympy's own)."""
    import sympy
    names = {n: sympy.Symbol(n) for n in STATS}
    names.update({n: sympy.Function(n) for n in OPS if OPS.get(n).sympy is None})
    return names


def read_sympy(text: str) -> Program:
    """The program of an exported sympy expression (the inverse of ``str(to_sympy(p))``, up to
    sympy's own rewriting: ``a - b`` comes back as ``add(a, negate(b))``)."""
    import sympy
    from evoproxy.lang.program import parse
    return parse(_from_sympy(sympy.sympify(text, locals=sympy_locals())))


def _from_sympy(e) -> str:
    import sympy
    if isinstance(e, sympy.Symbol):
        return e.name
    if e.is_Number:
        return repr(float(e))
    if isinstance(e, sympy.Add):
        return _fold("add", [_from_sympy(a) for a in e.args])
    if isinstance(e, sympy.Mul):
        return _mul(e)
    if isinstance(e, sympy.Pow):
        return _pow(e)
    if isinstance(e, sympy.Abs):
        return f"abs({_from_sympy(e.args[0])})"
    if isinstance(e, sympy.core.function.AppliedUndef):
        return f"{e.func.__name__}({', '.join(_from_sympy(a) for a in e.args)})"
    raise ValueError(f"{e} has no evoproxy form; export with --format json for a lossless copy")


def _fold(op: str, args: list[str]) -> str:
    out = args[0]
    for a in args[1:]:
        out = f"{op}({out}, {a})"
    return out


def _mul(e) -> str:
    import sympy
    coeff, rest = e.as_coeff_Mul()
    num, den = [], []
    for f in sympy.Mul.make_args(rest):
        if isinstance(f, sympy.Pow) and f.exp.is_Integer and f.exp < 0:
            den.append(_from_sympy(f.base ** -f.exp))
        else:
            num.append(_from_sympy(f))
    text = _fold("mul", num) if num else "1.0"
    if den:
        text = f"div({text}, {_fold('mul', den)})"
    if coeff == -1:
        return f"negate({text})"
    return text if coeff == 1 else f"mul({float(coeff)!r}, {text})"


def _pow(e) -> str:
    base, n = _from_sympy(e.base), e.exp
    if not n.is_Integer or n == 0:
        raise ValueError(f"{e}: only integer powers have an evoproxy form")
    if n < 0:
        return f"invert({_pow(e.base ** -n)})" if n != -1 else f"invert({base})"
    out = f"square({base})" if n >= 2 else base
    for _ in range(int(n) - 2):
        out = f"mul({out}, {base})"
    return out
