"""What is registered (ops, statistics, proxies, passes, benchmarks, selections, backends) and
one proxy shown in each export format."""
from __future__ import annotations

import json

from evoproxy.backends import BACKENDS
from evoproxy.benchmarks import BENCHMARKS
from evoproxy.lang import export
from evoproxy.lang.ops import OPS
from evoproxy.lang.program import check_proxy
from evoproxy.lang.proxies import PROXIES
from evoproxy.lang.proxyfile import proxy_document, resolve
from evoproxy.lang.stats import STATS

SIGNATURES = {"unary": "x -> x", "binary": "x, x -> x", "matmul": "T[d], T[d] -> T[gram(d)]",
              "reshape": "T[d] -> T[op(d)]", "reduce": "tensor -> layer",
              "distance": "T[d], T[d] -> layer", "aggregate": "layer -> scalar",
              "samples": "T[d|n] or T[d|i] -> T[d]", "stack": "T[k] -> T[k] (one layer)",
              "concat": "T[neurons(d)] -> T[neurons(d)] (one layer)", "across": "layer -> layer (new axis)",
              "rank": "scalar or set -> set"}
LISTS = ("ops", "stats", "proxies")


def table(what: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """``(header, rows)`` describing the registered ``what`` (one of :data:`LISTS`)."""
    if what == "ops":
        return ("op", "family", "signature", "default", "meaning"), [
            (o.name, o.family, SIGNATURES[o.family], "yes" if o.default else "no", o.doc) for o in OPS.values()]
    if what == "stats":
        return ("statistic", "type", "pass", "extra cost", "description"), [
            (s.name, str(s.vtype), s.pass_name, s.cost or "-", s.description) for s in STATS.values()]
    return ("proxy", "formula", "source", "departures from the reference code"), [
        (p.name, p.formula, p.source, p.departures or "-") for p in PROXIES.values()]


def show(proxy: str, fmt: str) -> str:
    """A proxy (name, formula or file) as text, JSON, LaTeX, sympy or DOT."""
    spec = resolve(proxy)
    p = check_proxy(spec.program)
    if fmt == "text":
        return (f"{p.text}\ncanonical: {p.canonical().text}\nhash: {p.hash}  size: {p.size}  "
                f"depth: {p.depth}  statistics: {', '.join(sorted(p.stats))}")
    if fmt == "json":
        return json.dumps(proxy_document(spec), indent=2)
    if fmt == "latex":
        return export.to_latex(p)
    if fmt == "sympy":
        return str(export.to_sympy(p))
    return export.to_dot(p)


def names(kind: str) -> list[str]:
    """Registered benchmark or backend names (for ``--help`` texts)."""
    return list(BENCHMARKS if kind == "benchmarks" else BACKENDS)


__all__ = ["LISTS", "table", "show", "names", "resolve"]
