"""evoproxy: discover zero-cost proxies by evolving formulas over untrained-network statistics."""
from evoproxy.errors import DataMissing, EvoproxyError
from evoproxy.lang.interpret import evaluate, evaluate_many, to_callable
from evoproxy.lang.program import FormulaError, Program, parse
from evoproxy.lang.proxyfile import ProxySpec, read_proxy, resolve
from evoproxy.scoring.score import load_proxy

__all__ = ["Program", "parse", "evaluate", "evaluate_many", "to_callable", "ProxySpec", "resolve",
           "read_proxy", "load_proxy", "EvoproxyError", "DataMissing", "FormulaError",
           "search", "load_result", "evaluate_proxies", "RunConfig", "SearchResult"]
__version__ = "0.1.0"
_LAZY = {"search": "evoproxy.app.api", "load_result": "evoproxy.app.api", "evaluate_proxies": "evoproxy.app.api",
         "RunConfig": "evoproxy.evolve.config", "SearchResult": "evoproxy.evolve.results"}


def __getattr__(name: str):
    """The search API is imported on first use: ``import evoproxy`` stays light and cycle-free."""
    if name not in _LAZY:
        raise AttributeError(f"module 'evoproxy' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(_LAZY[name]), name)
