"""The proxy language: value types, ops, statistics, programs, their interpreter and exports.

Plugins register into the core here, in a fixed order (the order seeded runs draw ops in):
the core ops (:mod:`.ops`), then the teacher-student ops (:mod:`.teacher_ops`), then the
spectral and sample-axis ops (:mod:`.spectral_ops`), then ``rank`` and set-level scoring
(:mod:`.ranks`). The core never
imports its plugins. A user adds an op with :func:`evoproxy.lang.ops.register_op` and a statistic
with :func:`evoproxy.lang.stats.register_stat` from their own code.
"""
from evoproxy.lang import ops, teacher_ops, spectral_ops, ranks, stats  # noqa: F401  (order: core ops, then plugins)
