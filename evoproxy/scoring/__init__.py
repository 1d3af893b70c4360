"""Scoring networks: the one build-probe-interpret path (:mod:`.score`), the statistics-major
:class:`~evoproxy.scoring.worker.Worker`, rank-correlation fitness and eval summaries."""
