import hashlib
import json
import random

import pytest
from hypothesis import given, settings, strategies as st

from evoproxy.evolve.generate import Generator
from evoproxy.lang.program import FormulaError, Program, check_proxy, parse
from evoproxy.lang.types import SCALAR_T

GEN = Generator()


@st.composite
def programs(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    depth = draw(st.integers(1, 8))
    return GEN.program(random.Random(seed), SCALAR_T, depth)


@settings(max_examples=300, deadline=None)
@given(programs())
def test_text_round_trip(p):
    assert parse(p.text) == p
    assert parse(p.text).hash == p.hash


@settings(max_examples=300, deadline=None)
@given(programs())
def test_json_round_trip(p):
    tree = json.loads(json.dumps(p.to_json()))
    assert Program.from_json(tree) == p


@settings(max_examples=200, deadline=None)
@given(programs())
def test_generated_programs_are_well_typed(p):
    assert p.vtype == SCALAR_T
    assert p.depth <= 8


def test_canonical_form_merges_commutative_spellings():
    a = parse("layer_sum(sum(mul(grad, weight)))")
    b = parse("layer_sum(sum(mul(weight, grad)))")
    assert a != b and a.hash == b.hash
    assert parse("layer_sum(sum(sub(grad, weight)))").hash != parse("layer_sum(sum(sub(weight, grad)))").hash


def test_hash_is_stable_across_runs():
    # the hash is part of the run store's format; changing it orphans stored runs
    text = "layer_sum(l2(grad))"
    assert parse(text).hash == hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("text, column, reason", [
    ("bad(", 1, "unknown op 'bad'"),
    ("mul(act, weight)", 1, "cannot pair tensor[A] with tensor[W]"),
    ("layer_sum(sum(grad)", 20, "expected ')'"),
    ("layer_sum(l2(grad)) x", 21, "unexpected 'x'"),
    ("sum(nwot)", 1, "needs a per-layer tensor"),
    ("mul(grad)", 1, "takes 2 argument(s)"),
    ("layer_sum(l2(gard))", 14, "unknown statistic 'gard'"),
    ("l2(grad) $", 10, "unexpected character '$'"),
])
def test_errors_name_column_and_reason(text, column, reason):
    with pytest.raises(FormulaError) as e:
        parse(text)
    msg = str(e.value)
    assert msg.startswith(f"column {column}:") and reason in msg and "\n" not in msg


def test_proxy_must_be_one_number_per_network():
    with pytest.raises(FormulaError, match="not one number per network"):
        check_proxy(parse("l2(grad)"))


def test_bad_json_is_rejected():
    with pytest.raises(FormulaError):
        Program.from_json({"op": "mul", "args": [{"stat": "act"}, {"stat": "weight"}]})
    with pytest.raises(FormulaError):
        Program.from_json({"eval": "__import__('os')"})
