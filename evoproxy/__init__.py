"""evoproxy: discover zero-cost proxies by evolving formulas over untrained-network statistics."""
from evoproxy.errors import DataMissing, EvoproxyError
from evoproxy.lang.interpret import evaluate, evaluate_many, to_callable
from evoproxy.lang.program import FormulaError, Program, parse
from evoproxy.lang.proxyfile import ProxySpec, read_proxy, resolve
from evoproxy.scoring.score import load_proxy

__all__ = ["Program", "parse", "evaluate", "evaluate_many", "to_callable", "ProxySpec", "resolve",
           "read_proxy", "load_proxy", "EvoproxyError", "DataMissing", "FormulaError"]
__version__ = "0.1.0"
