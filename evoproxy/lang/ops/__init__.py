"""The ops of the proxy language: the core ops (:mod:`.core`) and, registered after them by
:mod:`evoproxy.lang`, the teacher-student ops (:mod:`.teacher`) and the spectral and sample-axis ops
(:mod:`.spectral`). Add an op from your own code with :func:`register_op`."""
from evoproxy.lang.ops.core import (EXP_CLAMP, OPS, Op, register_op, rows, safe_div, safe_invert, safe_log,
                                    sympy_function, zero_where_undefined)

__all__ = ["EXP_CLAMP", "OPS", "Op", "register_op", "rows", "safe_div", "safe_invert", "safe_log",
           "sympy_function", "zero_where_undefined"]
