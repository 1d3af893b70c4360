"""Exports of a program: LaTeX, sympy, a networkx DAG (shared subexpressions merged), DOT."""
from __future__ import annotations

import ast
import math
import operator

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


MAX_SYMPY_TEXT = 100_000   # characters; an exported formula is a few hundred
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_MAX_POWER = 64


def read_sympy(text: str) -> Program:
    """The program of an exported sympy expression (the inverse of ``str(to_sympy(p))``, up to
    sympy's own rewriting: ``a - b`` comes back as ``add(a, negate(b))``).

    The text is parsed, never evaluated: an allow-list walk of Python's ``ast`` accepts only the forms
    sympy prints (numbers, statistics, evoproxy's ops and ``Abs`` called on them, ``+ - * / **`` with a
    small integer power), so ``max``, ``sum`` or ``log`` stay evoproxy's ops and no code can run.
    Anything else is a ``ValueError`` naming what was refused."""
    from evoproxy.lang.program import parse
    if len(text) > MAX_SYMPY_TEXT:
        raise ValueError(f"a sympy formula of {len(text):,} characters is over the {MAX_SYMPY_TEXT:,} read; "
                         "export with --format json for a lossless copy")
    try:
        tree = ast.parse(text.strip(), mode="eval")
        return parse(_from_sympy(_sympy_of(tree.body)))
    except (SyntaxError, RecursionError, MemoryError) as err:
        raise ValueError(f"not a sympy formula evoproxy exported ({type(err).__name__}); "
                         "export with --format json for a lossless copy") from None


def _sympy_of(node: ast.AST):
    """The sympy expression of one allow-listed ``ast`` node; ValueError for anything else."""
    import sympy
    if isinstance(node, ast.Constant) and type(node.value) in (int, float) and math.isfinite(node.value):
        return sympy.Float(node.value)
    if isinstance(node, ast.Name) and node.id in STATS:
        return sympy.Symbol(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _sympy_of(node.operand)
        return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_sympy_of(node.left), _sympy_of(node.right))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return _sympy_of(node.left) ** _power(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        return _function(node.func.id)(*(_sympy_of(a) for a in node.args))
    raise ValueError(f"{_shown(node)!r} is not part of an exported evoproxy formula (only numbers, statistics, "
                     "evoproxy's ops, Abs and + - * / ** are read)")


def _power(node: ast.AST) -> int:
    sign = -1 if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else 1
    value = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) else node
    if not (isinstance(value, ast.Constant) and type(value.value) is int and 0 < value.value <= _MAX_POWER):
        raise ValueError(f"power {_shown(node)!r}: only integer powers up to {_MAX_POWER} have an evoproxy form")
    return sign * value.value


def _function(name: str):
    import sympy
    if name == "Abs":
        return sympy.Abs
    if name in OPS and OPS.get(name).sympy is None:
        return sympy.Function(name)
    raise ValueError(f"{name!r} is not an evoproxy op without a sympy form (nor Abs); see evoproxy list ops")


def _shown(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


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
