"""Teacher-student ops: distances against numpy/scipy, channel-free transforms, type rules,
runtime shape screening and the GP machinery on teacher/student statistics."""
import math
import random

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cosine as scipy_cosine_distance
from scipy.special import softmax
from scipy.stats import entropy, pearsonr

from evoproxy.lang.interpret import apply_op, evaluate, evaluate_many
from evoproxy.lang.export import to_latex, to_sympy
from evoproxy.evolve.generate import Generator
from evoproxy.lang.ops import OPS
from evoproxy.lang.program import FormulaError, check_proxy, parse
from evoproxy.lang.types import LAYER, LAYER_T, SCALAR_T, TypeCheckError, VType, tensor
from evoproxy.evolve.variation import Limits, crossover, mutate

DISTANCES = ("mse", "l1dist", "kl_t", "cosine", "pearson")
TRANSFORMS = ("gram_batch", "gram_channel", "attention_map")
KD_STATS = ("t_feat", "s_feat", "t_logits", "s_logits")


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _kd_stats(b=4, ct=(8, 16, 32), cs=(6, 6, 6), hw=(8, 4, 2), classes=10):
    """Fake kd statistics: K = 3 stages, teacher and student channel counts differ."""
    seed = iter(range(100))
    return {"t_feat": tuple(_rand(b, c, s, s, seed=next(seed)) for c, s in zip(ct, hw)),
            "s_feat": tuple(_rand(b, c, s, s, seed=next(seed)) for c, s in zip(cs, hw)),
            "t_logits": (_rand(b, classes, seed=next(seed)),),
            "s_logits": (_rand(b, classes, seed=next(seed)),)}


def _np_rows(x):
    return x.numpy().astype(np.float64).reshape(x.shape[0], -1)


def _reference(name, a, b):
    """Independent numpy/scipy forms of the distances."""
    ra, rb = _np_rows(a), _np_rows(b)
    if name == "mse":
        return np.mean((ra - rb) ** 2)
    if name == "l1dist":
        return np.mean(np.abs(ra - rb))
    if name == "kl_t":
        t = 4.0
        return np.mean([entropy(softmax(x / t), softmax(y / t)) for x, y in zip(ra, rb)]) * t * t
    if name == "cosine":
        return np.mean([1.0 - scipy_cosine_distance(x, y) for x, y in zip(ra, rb)])
    return pearsonr(ra.ravel(), rb.ravel())[0]


# ---- definitions -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5, 3, 4, 4), (5, 10), (7,)])
@pytest.mark.parametrize("name", DISTANCES)
def test_distance_matches_numpy(name, shape):
    a, b = _rand(*shape, seed=1), _rand(*shape, seed=2) * 2 + 0.3
    ra = a if a.dim() > 1 else a.reshape(1, -1)
    rb = b if b.dim() > 1 else b.reshape(1, -1)
    got = OPS.get(name).fn(a, b)
    assert got.dim() == 0 and got.dtype == torch.float64
    assert float(got) == pytest.approx(_reference(name, ra, rb), rel=1e-9, abs=1e-12)


def test_kl_t_is_the_hinton_kd_loss():
    t, s = _rand(6, 10, seed=3), _rand(6, 10, seed=4)
    ref = torch.nn.functional.kl_div(torch.log_softmax(s.double() / 4, 1), torch.softmax(t.double() / 4, 1),
                                     reduction="batchmean") * 16
    assert float(OPS.get("kl_t").fn(t, s)) == pytest.approx(float(ref), rel=1e-9)
    assert float(OPS.get("kl_t").fn(t, t)) == pytest.approx(0.0, abs=1e-12)


def test_transforms_match_numpy():
    x = _rand(3, 5, 4, 2, seed=5)
    xn = x.numpy().astype(np.float64)
    rows = xn.reshape(3, -1)
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    np.testing.assert_allclose(OPS.get("gram_batch").fn(x).numpy(), rows @ rows.T, rtol=1e-5, atol=1e-6)
    ch = xn.reshape(3, 5, -1)
    ch = ch / np.linalg.norm(ch, axis=2, keepdims=True)
    gram_c = np.mean([c @ c.T for c in ch], axis=0)
    np.testing.assert_allclose(OPS.get("gram_channel").fn(x).numpy(), gram_c, rtol=1e-5, atol=1e-6)
    at = (xn ** 2).mean(axis=1).reshape(3, -1)
    at = at / np.linalg.norm(at, axis=1, keepdims=True)
    np.testing.assert_allclose(OPS.get("attention_map").fn(x).numpy(), at, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", TRANSFORMS)
def test_transforms_are_defined_below_three_dims(name):
    fn = OPS.get(name).fn
    for x in (_rand(4, 6, seed=6), _rand(6, seed=7), torch.zeros(4, 6)):
        out = fn(x)
        assert out.dim() == 2 and not torch.isnan(out).any()
    assert fn(_rand(4, 6)).shape == {"gram_batch": (4, 4), "gram_channel": (6, 6),
                                     "attention_map": (4, 1)}[name]


def test_channel_free_transforms_give_equal_shapes_for_different_channel_counts():
    t, s = _rand(4, 32, 8, 8, seed=8), _rand(4, 6, 8, 8, seed=9)
    for name in ("gram_batch", "attention_map"):
        assert OPS.get(name).fn(t).shape == OPS.get(name).fn(s).shape
    assert OPS.get("gram_channel").fn(t).shape != OPS.get("gram_channel").fn(s).shape


@pytest.mark.parametrize("name", DISTANCES)
def test_distances_never_nan_on_zeros_or_constants(name):
    fn = OPS.get(name).fn
    z, c, x = torch.zeros(3, 4, 2, 2), torch.full((3, 4, 2, 2), 0.1), _rand(3, 4, 2, 2)
    for a, b in [(z, z), (z, x), (x, z), (c, c), (c, x), (c * 1e6, c * -1e6)]:
        assert not torch.isnan(fn(a, b)).any(), (name, a.flatten()[0], b.flatten()[0])
    if name in ("cosine", "pearson"):  # a zero vector has no direction: no similarity
        assert float(fn(z, x)) == 0.0 and float(fn(x, z)) == 0.0
    if name == "pearson":  # a constant has no variation: no correlation
        assert float(fn(c, c)) == 0.0 and float(fn(c, x)) == 0.0
    if name == "cosine":
        assert float(fn(c, c)) == pytest.approx(1.0)
    if name in ("mse", "l1dist", "kl_t"):
        assert float(fn(c, c)) == pytest.approx(0.0, abs=1e-12)


def test_attention_map_and_grams_keep_zero_rows_zero():
    x = _rand(3, 4, 2, 2)
    x[1] = 0
    assert torch.all(OPS.get("attention_map").fn(x)[1] == 0)
    assert torch.all(OPS.get("gram_batch").fn(x)[1] == 0)
    assert torch.all(OPS.get("gram_channel").fn(torch.zeros(3, 4, 5)) == 0)


# ---- evaluation: per layer pair, inputs untouched, shape mismatch screened ------------------

def test_distance_is_one_number_per_layer_pair():
    stats = _kd_stats()
    maps = [apply_op(OPS.get("attention_map"), [stats[k]]) for k in ("t_feat", "s_feat")]
    value = apply_op(OPS.get("mse"), maps)
    assert value.shape == (3,) and value.dtype == torch.float64
    def at(m):
        r = _np_rows(m.pow(2).mean(1))
        return r / np.linalg.norm(r, axis=1, keepdims=True)
    for i, (t, s) in enumerate(zip(stats["t_feat"], stats["s_feat"])):
        a, b = at(t), at(s)
        assert float(value[i]) == pytest.approx(np.mean((a - b) ** 2), rel=1e-5)


def test_evaluation_never_writes_into_statistics():
    stats = _kd_stats()
    before = {k: tuple(t.clone() for t in v) for k, v in stats.items()}
    texts = [f"layer_sum({d}({t}(t_feat), {t}(s_feat)))"
             for d in DISTANCES for t in ("attention_map", "gram_batch")]
    texts += [f"layer_sum({d}(t_logits, s_logits))" for d in DISTANCES]
    texts += ["layer_sum(mse(gram_channel(t_feat), gram_channel(t_feat)))"]
    scores = evaluate_many([parse(t) for t in texts], stats)
    assert all(math.isfinite(s) for s in scores), scores
    for k, v in stats.items():
        assert all(torch.equal(a, b) for a, b in zip(v, before[k])), k


def test_runtime_shape_mismatch_is_screened_not_raised():
    stats = _kd_stats()
    stats["s_logits"] = (_rand(4, 12),)  # a student with another class count
    with pytest.raises(ValueError, match="shapes differ"):
        OPS.get("kl_t").fn(stats["t_logits"][0], stats["s_logits"][0])
    for d in DISTANCES:
        assert math.isnan(evaluate(parse(f"layer_sum({d}(t_logits, s_logits))"), stats))
    stats = _kd_stats(hw=(8, 4, 2))
    stats["s_feat"] = stats["s_feat"][:2]  # fewer stages than the teacher
    assert math.isnan(evaluate(parse("layer_sum(mse(attention_map(t_feat), attention_map(s_feat)))"), stats))
    stats = _kd_stats()
    stats["s_logits"] = (_rand(4, 12),)
    bad, ok = parse("layer_sum(mse(t_logits, s_logits))"), parse("layer_sum(mse(t_logits, t_logits))")
    scores = evaluate_many([bad, ok], stats)  # one failing program does not spoil the rest
    assert math.isnan(scores[0]) and scores[1] == 0.0


# ---- type rules --------------------------------------------------------------------------------

def test_stage_values_never_meet_weight_layers_but_one_entry_lists_broadcast():
    """Teacher/student stages (3) and the student's weight layers (many) are different lists: a
    program pairing them failed at run time (found by a ViT search) and is now a type error; the
    logits' one entry per network broadcasts like a scalar."""
    for text in ("layer_sum(mul(sum(spatial_sum(grad)), negate(mse(s_feat, s_feat))))",
                 "layer_sum(l1(sub(sqrt(mul(grad, grad)), exp(mean(t_feat)))))",
                 "layer_last(mul(std(s_cls_grad), matmul(t_feat, t_feat)))"):
        with pytest.raises(FormulaError, match="cannot pair"):
            parse(text)
    assert parse("div(l1(weight), l1dist(gram_batch(t_logits), gram_batch(s_logits)))").vtype == LAYER_T
    assert parse("add(mse(t_logits, s_logits), l2(s_feat))").vtype == VType(LAYER, "stage")


@pytest.mark.parametrize("name", DISTANCES)
def test_distance_type_rules(name):
    op = OPS.get(name)
    assert op.arity == 2
    assert op.result_type(tensor("Z"), tensor("Z")) == VType(LAYER, "logits")
    with pytest.raises(TypeCheckError, match=rf"{name} cannot compare tensor\[T\] with tensor\[S\]"):
        op.result_type(tensor("T"), tensor("S"))
    with pytest.raises(TypeCheckError, match=rf"{name} cannot compare tensor\[W\] with layer"):
        op.result_type(tensor("W"), LAYER_T)
    with pytest.raises(FormulaError, match="cannot compare tensor\\[T\\] with tensor\\[S\\]"):
        parse(f"{name}(t_feat, s_feat)")
    assert parse(f"{name}(attention_map(t_feat), attention_map(s_feat))").vtype == VType(LAYER, "stage")
    assert parse(f"{name}(gram_batch(t_feat), gram_batch(s_feat))").vtype == VType(LAYER, "stage")
    assert parse(f"{name}(t_logits, s_logits)").vtype == VType(LAYER, "logits")
    with pytest.raises(FormulaError, match="gram_channel\\(T\\).*gram_channel\\(S\\)"):
        parse(f"{name}(gram_channel(t_feat), gram_channel(s_feat))")
    with pytest.raises(FormulaError, match="takes 2 argument"):
        parse(f"{name}(t_feat)")


def test_transform_domains():
    for d in ("T", "S"):
        assert OPS.get("gram_batch").result_type(tensor(d)) == tensor("gram_batch(F)")
        assert OPS.get("attention_map").result_type(tensor(d)) == tensor("attention_map(F)")
        assert OPS.get("gram_channel").result_type(tensor(d)) == tensor(f"gram_channel({d})")
    assert OPS.get("gram_batch").result_type(tensor("A")) == tensor("gram_batch(A)")
    assert OPS.get("attention_map").result_type(tensor("attn")) == tensor("attention_map(attn)")


def test_canonical_form_orders_symmetric_distances_only():
    assert parse("mse(t_logits, s_logits)").hash == parse("mse(s_logits, t_logits)").hash
    assert parse("kl_t(t_logits, s_logits)").hash != parse("kl_t(s_logits, t_logits)").hash


def test_exports():
    p = parse("layer_mean(kl_t(t_logits, s_logits))")
    assert r"\mathrm{KL}_{T}\left(z_{T} \,\|\, z_{S}\right)" in to_latex(p)
    assert to_latex(parse("cosine(attention_map(t_feat), attention_map(s_feat))")) == \
        r"\cos\left(\operatorname{AT}\left(F_{T}\right), \operatorname{AT}\left(F_{S}\right)\right)"
    assert str(to_sympy(parse("pearson(gram_batch(t_feat), gram_batch(s_feat))"))) == \
        "pearson(gram_batch(t_feat), gram_batch(s_feat))"


# ---- the GP machinery --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kd_programs():
    gen, rng = Generator(stats=KD_STATS), random.Random(0)
    return gen, [gen.program(rng, SCALAR_T, rng.randint(3, 6)) for _ in range(400)]


def _crosses_teacher_and_student(p):
    """Some distance compares a teacher-derived argument with a student-derived one."""
    return any(OPS.get(n.head).family == "distance"
               and {"t_feat", "s_feat"} <= n.args[0].stats | n.args[1].stats
               for n in p.nodes() if n.args)


def test_generator_draws_distances_between_teacher_and_student(kd_programs):
    gen, programs = kd_programs
    want = {"attention_map(F)", "gram_batch(F)", "gram_channel(T)", "gram_channel(S)", "Z"}
    assert want <= set(gen.domains)
    assert sorted(d for _, d in gen.sources["attention_map(F)"]) == ["S", "T"]
    heads = {n.head for p in programs for n in p.nodes()}
    assert set(DISTANCES) <= heads and {"attention_map", "gram_batch", "gram_channel"} <= heads
    assert any(_crosses_teacher_and_student(p) for p in programs)
    stats = _kd_stats()
    scores = evaluate_many(programs, stats)
    for p in programs:
        check_proxy(p)
        assert parse(p.text) == p
    assert sum(math.isfinite(s) for s in scores) > len(programs) // 2


def test_variation_keeps_kd_programs_well_typed(kd_programs):
    gen, programs = kd_programs
    rng, limits, made = random.Random(1), Limits(max_depth=8, max_size=24), 0
    pool = [p for p in programs if limits.ok(p)]
    for _ in range(300):
        a, b = rng.choice(pool), rng.choice(pool)
        for child in (crossover(rng, a, b, limits), mutate(rng, a, gen, limits)):
            if child is not None:
                made += 1
                assert child.vtype == SCALAR_T and limits.ok(child) and parse(child.text) == child
    assert made > 300


def test_generator_inverts_nested_channel_free_domains():
    gen, rng = Generator(stats=KD_STATS), random.Random(2)
    t = tensor("gram(attention_map(F))")  # reached by mutating a hand-written program
    for _ in range(20):
        p = gen.program(rng, t, 4)
        assert p.vtype == t and "matmul" in {n.head for n in p.nodes()} and p.stats <= {"t_feat", "s_feat"}
