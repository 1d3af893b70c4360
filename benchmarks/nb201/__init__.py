"""NAS-Bench-201: the accuracy table (:mod:`.table`) and its import from the official releases
(:mod:`.release`)."""
from .table import TABLE, NB201Benchmark, load_nb201

__all__ = ["NB201Benchmark", "TABLE", "load_nb201"]
