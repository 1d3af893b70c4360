"""Shared by the direct-implementation tests: a registered proxy's library score, and the comparison."""
from __future__ import annotations

import math

from evoproxy.lang.interpret import evaluate
from evoproxy.probe.base import collect
from evoproxy.lang.proxies import PROXIES


def library_score(name: str, model, x, y, seed: int = 0) -> float:
    """The registered proxy ``name`` scored through the probe and evaluator."""
    program = PROXIES.get(name).program
    return evaluate(program, collect(model, x, y, program.stats, seed=seed))


def assert_close(got: float, want: float, rel: float = 1e-4, nonzero: bool = False) -> None:
    """``got`` (library) matches ``want`` (direct); ``nonzero`` also refuses a degenerate zero."""
    assert math.isfinite(want) and not (nonzero and want == 0), f"direct value is degenerate: {want}"
    assert math.isclose(got, want, rel_tol=rel, abs_tol=1e-12), f"library {got!r} != direct {want!r}"
