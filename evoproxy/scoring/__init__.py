"""Scoring networks: the one build-probe-interpret path (:mod:`.score`), the statistics-major
:class:`~evoproxy.scoring.worker.Worker`, rank-correlation fitness, eval summaries, and the
:class:`~evoproxy.scoring.benchmark.Benchmark` protocol the engine sees benchmarks through."""
