import math
import torch
import pytest

from evoproxy.lang.interpret import apply_op
from evoproxy.lang.interpret import evaluate
from evoproxy.lang.ops import OPS, Op, register_op
from evoproxy.lang.program import parse

SAMPLES = {
    "zeros": torch.zeros(3, 4, 2, 2),
    "negative": -torch.rand(3, 4, 2, 2) - 0.1,
    "mixed": torch.randn(3, 4, 2, 2, generator=torch.Generator().manual_seed(0)),
    "large": torch.full((3, 4, 2, 2), 1e6),
}


def _inputs(op, x):
    layers = (x, x[:2] * 0.5)  # two layers of different shapes, like a real statistic list
    if op.family == "stack":     # batch kernels: one shape in every layer (the type rule's promise)
        layers = (x, x * 0.5)
    if op.family in ("aggregate", "across", "rank"):   # a vector over layers (or networks)
        return [torch.tensor([0.0, -1.0, 2.0], dtype=torch.float64)]
    return [layers, tuple(t.flip(0) for t in layers)][: op.arity]


@pytest.mark.parametrize("sample", sorted(SAMPLES))
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_never_writes_into_its_inputs(name, sample):
    op = OPS.get(name)
    args = _inputs(op, SAMPLES[sample])
    before = [tuple(t.clone() for t in a) if isinstance(a, tuple) else a.clone() for a in args]
    out = apply_op(op, args)
    for a, b in zip(args, before):
        for x, y in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
            assert torch.equal(x, y), f"{name} modified its input"
    for t in out if isinstance(out, tuple) else (out,):
        assert not torch.isnan(t).any(), f"{name} gave NaN on {sample} input"


def test_unary_outputs_do_not_share_memory_with_inputs():
    x = (torch.randn(4, 3),)
    for name in OPS:
        if OPS.get(name).family == "unary":
            out = apply_op(OPS.get(name), [x])
            assert out[0].data_ptr() != x[0].data_ptr(), name


def test_safe_definitions():
    x = torch.tensor([-2.0, 0.0, 4.0])
    assert OPS.get("log").fn(x).tolist() == [0.0, 0.0, pytest.approx(1.3862944)]
    assert OPS.get("invert").fn(x).tolist() == [-0.5, 0.0, 0.25]
    assert OPS.get("div").fn(x, torch.tensor([1.0, 0.0, 2.0])).tolist() == [-2.0, 0.0, 2.0]
    assert OPS.get("sqrt").fn(x).tolist() == [0.0, 0.0, 2.0]
    assert OPS.get("normalize").fn(torch.ones(5)).tolist() == [0.0] * 5


def test_registration_refuses_a_mutating_op():
    def bad(x):
        x.mul_(2)
        return x
    with pytest.raises(ValueError, match="writes into its input"):
        register_op(Op("bad_inplace", "unary", bad, "", "{0}"))
    assert "bad_inplace" not in OPS


def test_registration_refuses_duplicates_and_nan():
    with pytest.raises(ValueError, match="already registered"):
        register_op(Op("log", "unary", torch.abs, "", "{0}"))
    with pytest.raises(ValueError, match="NaN"):
        register_op(Op("raw_log", "unary", torch.log, "", "{0}"))


def test_an_op_whose_latex_template_does_not_format_is_refused_when_registered():
    bad = Op("bad_latex_op", "unary", torch.abs, "|x|", r"\mathbb{1}{0}")   # {1}: a second argument
    with pytest.raises(ValueError, match="LaTeX template"):
        register_op(bad)
    assert "bad_latex_op" not in OPS


def test_a_matmul_past_its_size_bound_scores_nan_at_once_and_one_within_it_a_number():
    """matmul(block_jac, block_jac) on a real network would need GBs and minutes: past 2^24 output entries
    a matmul fails, so its program scores NaN (screened), in no time."""
    program = parse("layer_sum(sum(matmul(weight, weight)))")
    within = {"weight": (torch.ones(4096, 2),)}                 # 4096 x 4096 = 2^24 entries: computed
    past = {"weight": (torch.ones(4097, 2),)}                   # one row more: refused before allocating
    assert evaluate(program, within) == 4096 * 4096 * 2
    assert math.isnan(evaluate(program, past))
