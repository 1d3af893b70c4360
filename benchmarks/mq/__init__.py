"""Mixed-precision quantization: the benchmark (:mod:`.benchmark`), its table build
(:mod:`.build`) and the MQBench-101 import (:mod:`.mqbench101`)."""
from .benchmark import MQBenchmark, load_mq

__all__ = ["MQBenchmark", "load_mq"]
