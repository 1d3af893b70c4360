"""Proxy programs: immutable typed expression trees with a canonical text, JSON form and hash.

Text grammar (parsed by hand, never ``eval``)::

    expr   := NAME | NUMBER | NAME "(" expr ("," expr)* ")"

A bare NAME is a statistic (``grad``), a call names an op (``mul(grad, weight)``), a NUMBER is
a scalar constant. ``parse(str(p)) == p`` for every program ``p``; ``p.canonical()`` also orders
the arguments of commutative ops so that equivalent spellings share one hash.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator, Optional

from evoproxy.errors import EvoproxyError
from evoproxy.lang.ops import OPS
from evoproxy.lang.stats import STATS
from evoproxy.lang.types import SCALAR_T, SET_T, TypeCheckError, VType


class FormulaError(EvoproxyError):
    """A formula that does not parse or does not type-check; says where and why."""


@dataclass(frozen=True)
class Program:
    """A node: a statistic leaf (``head`` = stat name), a constant, or an op call."""

    head: str
    args: tuple["Program", ...] = ()
    value: Optional[float] = None  # set for constants (head == "")

    # ---- construction -------------------------------------------------------------------------
    @staticmethod
    def stat(name: str) -> "Program":
        return Program(name)

    @staticmethod
    def const(value: float) -> "Program":
        try:
            value = float(value)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            raise FormulaError(f"constant {str(value)[:40]} is not a finite number")
        return Program("", (), value)

    @staticmethod
    def call(op: str, *args: "Program") -> "Program":
        return Program(op, tuple(args))

    # ---- structure ----------------------------------------------------------------------------
    @property
    def is_const(self) -> bool:
        return self.value is not None

    @property
    def is_stat(self) -> bool:
        return not self.args and self.value is None

    @cached_property
    def text(self) -> str:
        if self.is_const:
            return repr(self.value)
        if self.is_stat:
            return self.head
        return f"{self.head}({', '.join(a.text for a in self.args)})"

    def __str__(self) -> str:
        return self.text

    @cached_property
    def size(self) -> int:
        return 1 + sum(a.size for a in self.args)

    @cached_property
    def depth(self) -> int:
        return 1 + max((a.depth for a in self.args), default=0)

    def nodes(self) -> Iterator["Program"]:
        """Every node, children before parents."""
        for a in self.args:
            yield from a.nodes()
        yield self

    @cached_property
    def stats(self) -> frozenset[str]:
        return frozenset(n.head for n in self.nodes() if n.is_stat)

    def canonical(self) -> "Program":
        """Same meaning, arguments of commutative ops sorted by their text."""
        if not self.args:
            return self
        args = tuple(a.canonical() for a in self.args)
        if OPS.get(self.head).commutative:
            args = tuple(sorted(args, key=lambda a: a.text))
        return Program(self.head, args)

    @cached_property
    def hash(self) -> str:
        """Stable 16-hex-digit hash of the canonical text."""
        return hashlib.sha256(self.canonical().text.encode()).hexdigest()[:16]

    @cached_property
    def vtype(self) -> VType:
        return infer_type(self)

    # ---- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        if self.is_const:
            return {"const": self.value}
        if self.is_stat:
            return {"stat": self.head}
        return {"op": self.head, "args": [a.to_json() for a in self.args]}

    @staticmethod
    def from_json(tree: Any) -> "Program":
        program = _from_json(tree)
        infer_type(program)
        return program


def _from_json(tree: Any, depth: int = 0) -> Program:
    if depth > MAX_NESTING:
        raise FormulaError(f"program JSON nested deeper than {MAX_NESTING} levels")
    if not isinstance(tree, dict) or len(tree.keys() - {"args"}) != 1:
        raise FormulaError(f"bad program JSON node {str(tree)[:60]!r}: expected one of "
                           "{'stat': NAME}, {'const': NUMBER}, {'op': NAME, 'args': [...]}")
    if "const" in tree and isinstance(tree["const"], (int, float)) and not isinstance(tree["const"], bool):
        return Program.const(tree["const"])
    if "stat" in tree and isinstance(tree["stat"], str):
        return Program.stat(tree["stat"])
    if "op" in tree and isinstance(tree["op"], str) and isinstance(tree.get("args"), list) and tree["args"]:
        if tree["op"] not in OPS:
            raise FormulaError(f"unknown op {tree['op'][:40]!r} in program JSON (see `evoproxy list ops`)")
        return Program.call(tree["op"], *(_from_json(a, depth + 1) for a in tree["args"]))
    raise FormulaError(f"bad program JSON node {str(tree)[:60]!r}")


def infer_type(p: Program) -> VType:
    """The value type of ``p``; raises FormulaError naming the failing subexpression."""
    try:
        return _infer(p)
    except TypeCheckError as e:
        raise FormulaError(str(e)) from None


def _infer(p: Program) -> VType:
    if p.is_const:
        return SCALAR_T
    if p.is_stat:
        if p.head not in STATS:
            if p.head in OPS:
                raise TypeCheckError(f"{p.head} is an op and needs arguments: {p.head}(...)")
            raise TypeCheckError(f"unknown statistic {p.head!r} (see `evoproxy list stats`)")
        return STATS.get(p.head).vtype
    if p.head not in OPS:
        raise TypeCheckError(f"unknown op {p.head!r} (see `evoproxy list ops`)")
    op = OPS.get(p.head)
    if len(p.args) != op.arity:
        raise TypeCheckError(f"{op.name} takes {op.arity} argument(s), got {len(p.args)}")
    types = [_infer(a) for a in p.args]
    try:
        return op.result_type(*types)
    except TypeCheckError as e:
        raise TypeCheckError(f"in {p.text}: {e}") from None


# ---- parsing ----------------------------------------------------------------------------------
MAX_NESTING = 100
"""Deepest nesting a formula or program JSON may have (evolved programs stay far below)."""
MAX_TEXT = 100_000
_SPACE = re.compile(r"\s*")
_TOKEN = re.compile(r"\s*(?:(?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<punct>[(),]))")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, pos = [], 0
    while pos < len(text):
        start = _SPACE.match(text, pos).end()
        if start == len(text):
            break
        m = _TOKEN.match(text, pos)
        if not m:
            raise FormulaError(f"column {start + 1}: unexpected character {text[start]!r}")
        kind = m.lastgroup or "punct"
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    tokens.append(("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = self.depth = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self, value: Optional[str] = None) -> tuple[str, str, int]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            found = repr(tok[1]) if tok[0] != "end" else "end of formula"
            raise FormulaError(f"column {tok[2]}: expected {value!r}, found {found}")
        self.i += 1
        return tok

    def expr(self) -> Program:
        kind, val, col = self.take()
        if kind == "num":
            return Program.const(float(val))
        if kind != "name":
            found = repr(val) if kind != "end" else "end of formula"
            raise FormulaError(f"column {col}: expected a statistic, op or number, found {found}")
        if self.peek()[1] != "(":
            node = Program.stat(val)
        else:
            if val not in OPS:
                raise FormulaError(f"column {col}: unknown op {val!r} (see `evoproxy list ops`)")
            self.take("(")
            self.depth += 1
            if self.depth > MAX_NESTING:
                raise FormulaError(f"column {col}: formula nested deeper than {MAX_NESTING} levels")
            args = [self.expr()]
            while self.peek()[1] == ",":
                self.take(",")
                args.append(self.expr())
            self.take(")")
            self.depth -= 1
            node = Program.call(val, *args)
        try:
            _infer(node)
        except TypeCheckError as e:
            raise FormulaError(f"column {col}: {e}") from None
        return node


def parse(text: str) -> Program:
    """Parse and type-check a formula; FormulaError names the column and the reason."""
    if not isinstance(text, str):
        raise FormulaError(f"a formula must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise FormulaError(f"formula is {len(text):,} characters long; the limit is {MAX_TEXT:,}")
    if not text.strip():
        raise FormulaError("empty formula")
    parser = _Parser(text)
    program = parser.expr()
    kind, val, col = parser.peek()
    if kind != "end":
        raise FormulaError(f"column {col}: unexpected {val!r} after a complete formula")
    return program


def check_proxy(program: Program) -> Program:
    """A proxy must produce one number per network (a ``set`` value: one per network, relative to
    the networks scored together)."""
    if program.vtype not in (SCALAR_T, SET_T):
        raise FormulaError(f"{program.text} gives a {program.vtype}, not one number per network: "
                           "aggregate it, e.g. layer_sum(sum(...))")
    return program
