"""Property tests (hypothesis): any text or JSON given as a proxy loads or raises the project's one
error type within a time bound; every random well-typed program evaluates to a number."""
import json
import random
from functools import lru_cache

import pytest
from hypothesis import example, given, settings, strategies as st

from evoproxy.errors import EvoproxyError
from evoproxy.lang.interpret import eval_node
from evoproxy.lang.ops.core import SizeBoundError
from evoproxy.lang.proxyfile import read_proxy, resolve
from evoproxy.lang.stats import STATS
from evoproxy.lang.types import SCALAR_T, SET_T
from evoproxy.evolve.generate import Generator

ALPHABET = st.sampled_from(list("(),. -+e0123456789_") + ["add", "log", "grad", "weight", "layer_sum",
                                                         "sum", "l2", "params", "mul", "x", "\u00e9", "\n"])
FORMULAS = st.one_of(st.text(max_size=200), st.lists(ALPHABET, max_size=80).map("".join))
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                        st.sampled_from(["formula", "tree", "op", "args", "stat", "const", "direction", "x"]),
                        inner, max_size=4), max_leaves=30)


@settings(max_examples=400, deadline=2000)
@given(FORMULAS)
@example("tenas")
def test_any_text_loads_or_raises_the_one_error_type(text):
    try:
        spec = resolve(text)
    except EvoproxyError:
        return
    assert spec.program.vtype in (SCALAR_T, SET_T)  # a rank-combined proxy (e.g. tenas) is set-typed


@settings(max_examples=300, deadline=2000)
@given(st.one_of(JSON, st.fixed_dictionaries({"tree": JSON}), st.fixed_dictionaries({"formula": JSON})))
def test_any_json_proxy_file_loads_or_raises_the_one_error_type(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("p") / "p.json"
    path.write_text(json.dumps(doc))
    try:
        spec = read_proxy(path)
    except EvoproxyError:
        return
    assert spec.program.vtype in (SCALAR_T, SET_T) and spec.direction in (1, -1)


SLOW_PASSES = ("kd", "quant", "hessian", "hess_eig", "ompq", "train")   # teacher, bit widths, or seconds each


@lru_cache(maxsize=1)
def _synthetic_stats():
    """Every non-teacher statistic of three synthetic networks, probed as the benchmark dictates."""
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.probe.base import collect
    from evoproxy.scoring.score import build_seeded
    bench = get_benchmark("synthetic")
    batch = bench.probe_batch()
    names = frozenset(s for s in STATS if STATS.get(s).pass_name not in SLOW_PASSES)
    return names, [collect(build_seeded(lambda a=a: bench.build(a), bench.probe_seed), batch.x, batch.y, names)
                   for a in (0, 1, 2)]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2 ** 32 - 1), st.integers(1, 8))
def test_every_generated_program_is_computable(seed, depth):
    names, networks = _synthetic_stats()
    program = Generator(stats=sorted(names)).program(random.Random(seed), SCALAR_T, depth)
    for stats in networks:
        try:
            value = eval_node(program, stats, {})   # a well-typed program computes: no other exception of any kind
        except SizeBoundError:  # past matmul's stated size bound: scored NaN (screened), never a crash
            continue
        assert tuple(value.shape) == () and value.dtype.is_floating_point, format(program)


SPECIAL = st.sampled_from([0.0, -0.0, 1.0, -2.5, 1e-45, 3e38, -3e38, float("inf"), float("-inf"), float("nan")])
FLOATS = st.lists(st.one_of(SPECIAL, st.floats(width=32)), min_size=0, max_size=12)


@settings(max_examples=300, deadline=2000)
@given(FLOATS, FLOATS)
def test_safe_ops_equal_their_masked_form_bit_for_bit(xs, ys):
    """The finite-sum shortcut of log, invert and div changes no bit: 0 outside the domain, else the op."""
    import torch

    from evoproxy.lang.ops import safe_div, safe_invert, safe_log
    n = min(len(xs), len(ys))
    x, y = torch.tensor(xs[:n], dtype=torch.float32), torch.tensor(ys[:n], dtype=torch.float32)
    pairs = [(safe_log(x), torch.where(x > 0, torch.log(x), 0)),
             (safe_invert(x), torch.where(x != 0, torch.reciprocal(x), 0)),
             (safe_div(x, y), torch.where(y != 0, x / y, 0))]
    for got, want in pairs:
        assert torch.equal(got.view(torch.int32), want.view(torch.int32))
