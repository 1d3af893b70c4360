"""The proxy language: value types, ops, statistics, programs, their interpreter and exports.

Plugins register into the core here, in a fixed order (the order seeded runs draw ops in):
the core ops (:mod:`.ops.core`), then the teacher-student ops (:mod:`.ops.teacher`), then the
spectral and sample-axis ops (:mod:`.ops.spectral`), then ``rank`` and set-level scoring
(:mod:`.ranks`). The core never
imports its plugins. A user adds an op with :func:`evoproxy.lang.ops.register_op` and a statistic
with :func:`evoproxy.lang.stats.register_stat` from their own code.
"""
from evoproxy.lang import ops  # noqa: F401  (order: core ops, then plugins)
from evoproxy.lang.ops import teacher, spectral  # noqa: F401
from evoproxy.lang import ranks, stats  # noqa: F401
