"""evoproxy: discover zero-cost proxies by evolving formulas over untrained-network statistics."""
from .errors import DataMissing, EvoproxyError
from .evaluate import evaluate, evaluate_many, to_callable
from .program import FormulaError, Program, parse
from .proxyfile import ProxySpec, load_proxy, read_proxy, resolve

__all__ = ["Program", "parse", "evaluate", "evaluate_many", "to_callable", "ProxySpec", "resolve",
           "read_proxy", "load_proxy", "EvoproxyError", "DataMissing", "FormulaError"]
__version__ = "0.1.0"
