"""The kd probe pass: it leaves both networks untouched, memoises the teacher, aligns feature
pairs, is absent (programs score NaN) without a teacher, and ``align`` returns copies."""
from __future__ import annotations

import copy
import math

import pytest
import torch

from evoproxy.probe import teacher as kdprobe
from evoproxy.lang.interpret import evaluate
from evoproxy.probe.teacher import DistillPair, align
from evoproxy.probe.base import collect
from evoproxy.lang.program import FormulaError, check_proxy, parse
from evoproxy.lang.proxies import PROXIES
from evoproxy.spaces.resnet_cifar import ResNetCifar, resnet_cifar
from evoproxy.spaces.vit import Attention, build_vit, count_params
from evoproxy.lang.stats import STATS

KD_STATS = sorted(n for n in STATS if STATS.get(n).pass_name == "kd")
TINY_VIT = {"hidden_dim": 64, "depth": 3, "mlp_ratio": [2.0, 2.0, 2.0], "num_heads": [2, 2, 4]}
TINY_PIT = {"base_dim": 16, "mlp_ratio": 2, "depth": [1, 1, 1], "num_heads": [2, 2, 2]}
TVT_TEACHER = "negate(layer_last(mse(attention_map(t_feat), attention_map(s_feat))))"


def _teacher(frozen: bool = False):
    torch.manual_seed(20)
    net = resnet_cifar(20).eval()
    if frozen:
        net.requires_grad_(False)
    return net


def _pair(teacher, space: str = "cifar-vit", arch: dict = TINY_VIT, seed: int = 21) -> DistillPair:
    torch.manual_seed(seed)
    return DistillPair(build_vit(space, arch), teacher, "test-kdprobe-teacher")


def _batch(seed: int = 0, n: int = 8):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


@pytest.fixture(autouse=True)
def _empty_memo():
    kdprobe._MEMO.clear()
    yield
    kdprobe._MEMO.clear()


def _snapshot(net: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def _assert_same_state(net: torch.nn.Module, before: dict) -> None:
    after = net.state_dict()
    assert after.keys() == before.keys()
    for k, v in before.items():
        assert torch.equal(after[k], v), k


# ---- the networks are never touched ------------------------------------------------------------

@pytest.mark.parametrize("frozen", [False, True])
def test_kd_pass_leaves_student_and_teacher_untouched(frozen):
    teacher = _teacher(frozen)
    p = _pair(teacher)
    x, y = _batch()
    x0, y0 = x.clone(), y.clone()
    s_before, t_before = _snapshot(p.student), _snapshot(teacher)
    s_flags = [q.requires_grad for q in p.student.parameters()]
    t_flags = [q.requires_grad for q in teacher.parameters()]
    stats = collect(p, x, y, KD_STATS + ["act_grad", "grad"], seed=0)
    assert set(stats) == set(KD_STATS) | {"act_grad", "grad"}
    _assert_same_state(p.student, s_before)
    _assert_same_state(teacher, t_before)
    assert all(q.grad is None for q in p.student.parameters())
    assert all(q.grad is None for q in teacher.parameters())
    assert [q.requires_grad for q in p.student.parameters()] == s_flags
    assert [q.requires_grad for q in teacher.parameters()] == t_flags
    assert not teacher.training  # still in eval mode
    # the student's attention probes were switched on in a copy only
    assert not p.student.keep_attn
    assert all(m.last_attn is None and not m.keep_attn for m in p.student.modules() if isinstance(m, Attention))
    assert torch.equal(x, x0) and torch.equal(y, y0)


def test_pair_holds_the_teacher_beside_the_student():
    teacher = _teacher()
    p = _pair(teacher)
    assert p.teacher is teacher
    assert copy.deepcopy(p).teacher is teacher  # probe passes deep copy the pair, never the teacher
    assert count_params(p) == count_params(p.student)
    assert all(m is not teacher for m in p.modules())


# ---- teacher memo ------------------------------------------------------------------------------

def test_teacher_outputs_are_memoised_per_batch(monkeypatch):
    calls = []
    original = ResNetCifar.forward_features

    def counting(self, x):
        calls.append(x.shape[0])
        return original(self, x)
    monkeypatch.setattr(ResNetCifar, "forward_features", counting)

    teacher = _teacher()
    x, y = _batch()
    a = collect(_pair(teacher, seed=1), x, y, KD_STATS)
    assert len(kdprobe._MEMO) == 1 and len(calls) == 1
    entry = next(iter(kdprobe._MEMO.values()))
    b = collect(_pair(teacher, seed=2), x, y, KD_STATS)  # another student, the same batch
    assert len(kdprobe._MEMO) == 1 and len(calls) == 1
    assert next(iter(kdprobe._MEMO.values())) is entry
    for name in ("t_feat", "t_logits", "t_cls_grad"):
        assert len(a[name]) == len(b[name])
        for u, v in zip(a[name], b[name]):
            assert torch.equal(u, v), name
    assert not torch.equal(a["s_logits"][0], b["s_logits"][0])  # the students do differ

    # writing into returned statistics does not spoil the memo
    for name in ("t_feat", "t_logits", "t_cls_grad"):
        for t in a[name]:
            t.add_(1.0)
    c = collect(_pair(teacher, seed=3), x, y, KD_STATS)
    for name in ("t_feat", "t_logits", "t_cls_grad"):
        for u, v in zip(b[name], c[name]):
            assert torch.equal(u, v), name
    assert len(calls) == 1

    # another batch is another entry; the memo stays bounded
    for seed in range(1, 6):
        collect(_pair(teacher), *_batch(seed), ["t_logits"])
    assert len(calls) == 6 and len(kdprobe._MEMO) == kdprobe._MEMO_SIZE


def test_memoised_teacher_outputs_equal_a_fresh_run():
    teacher = _teacher()
    x, y = _batch()
    stats = collect(_pair(teacher), x, y, ["t_logits", "t_cls_grad"])
    net = copy.deepcopy(teacher).eval()
    feats, logits = net.forward_features(x)
    torch.nn.functional.cross_entropy(logits, y).backward()
    torch.testing.assert_close(stats["t_logits"][0], logits.detach())
    torch.testing.assert_close(stats["t_cls_grad"][0], net.fc.weight.grad)


# ---- statistic shapes --------------------------------------------------------------------------

@pytest.mark.parametrize("space,arch", [("cifar-vit", TINY_VIT), ("pit", TINY_PIT)])
def test_kd_statistic_shapes(space, arch):
    p = _pair(_teacher(), space, arch)
    x, y = _batch()
    stats = collect(p, x, y, KD_STATS)
    assert set(stats) == set(KD_STATS)
    assert len(stats["t_feat"]) == len(stats["s_feat"]) == 3
    for t, s in zip(stats["t_feat"], stats["s_feat"]):
        assert t.dim() == s.dim() == 4 and t.shape[0] == s.shape[0] == 8
        assert t.shape[-2:] == s.shape[-2:]
    assert [t.shape[1] for t in stats["t_feat"]] == [16, 32, 64]  # ResNet-20 stage widths
    assert [tuple(t.shape[-2:]) for t in stats["t_feat"]] == [(32, 32), (16, 16), (8, 8)]
    (t_logits,), (s_logits,) = stats["t_logits"], stats["s_logits"]
    assert t_logits.shape == s_logits.shape == (8, 10)
    (t_grad,), (s_grad,) = stats["t_cls_grad"], stats["s_cls_grad"]
    assert t_grad.shape == (10, 64) and s_grad.shape == p.student.head.weight.shape
    assert len(stats["s_attn"]) == 3
    for a in stats["s_attn"]:
        assert a.dim() == 4 and a.shape[0] == 8 and a.shape[-1] == a.shape[-2]
        torch.testing.assert_close(a.sum(dim=-1), torch.ones(a.shape[:-1]), rtol=0, atol=1e-5)
        assert (a >= 0).all()


def test_collect_returns_only_the_named_kd_statistics():
    p = _pair(_teacher())
    x, y = _batch()
    assert set(collect(p, x, y, ["s_logits"])) == {"s_logits"}
    assert set(collect(p, x, y, ["t_feat", "s_attn"])) == {"t_feat", "s_attn"}


# ---- without a teacher -------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["vit", "cnn"])
def test_kd_statistics_absent_without_a_teacher(model):
    torch.manual_seed(0)
    net = build_vit("cifar-vit", TINY_VIT) if model == "vit" else resnet_cifar(8)
    x, y = _batch()
    stats = collect(net, x, y, KD_STATS + ["weight"])
    assert set(stats) == {"weight"}
    assert math.isnan(evaluate(parse(TVT_TEACHER), stats))
    for name in ("tvt", "diswot", "tvt_teacher"):
        program = PROXIES.get(name).program
        assert math.isnan(evaluate(program, collect(net, x, y, program.stats)))
    assert math.isfinite(evaluate(PROXIES.get("tvt_capability").program, stats))


# ---- type check --------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["mse(t_feat, s_feat)", "layer_sum(mse(t_feat, s_feat))",
                                  "negate(layer_last(cosine(t_feat, s_feat)))"])
def test_raw_teacher_student_distance_is_rejected_when_parsed(text):
    with pytest.raises(FormulaError, match=r"cannot compare tensor\[T\] with tensor\[S\].*attention_map"):
        check_proxy(parse(text))


def test_distance_without_aggregation_is_not_a_proxy():
    program = parse("mse(attention_map(t_feat), attention_map(s_feat))")
    with pytest.raises(FormulaError, match="not one number per network"):
        check_proxy(program)
    check_proxy(parse(TVT_TEACHER))


# ---- align -------------------------------------------------------------------------------------

@pytest.mark.parametrize("t_hw,s_hw,want", [((8, 8), (8, 8), (8, 8)), ((8, 8), (4, 4), (8, 8)),
                                            ((4, 4), (16, 16), (16, 16))])
def test_align_resizes_to_the_larger_grid_and_returns_copies(t_hw, s_hw, want):
    g = torch.Generator().manual_seed(0)
    t, s = torch.randn(2, 5, *t_hw, generator=g), torch.randn(2, 3, *s_hw, generator=g)
    t0, s0 = t.clone(), s.clone()
    at, as_ = align(t, s)
    assert at.shape == (2, 5, *want) and as_.shape == (2, 3, *want)
    for out, src in ((at, t), (as_, s)):
        if out.shape == src.shape:
            assert torch.equal(out, src)
        else:
            torch.testing.assert_close(out, torch.nn.functional.interpolate(
                src, size=want, mode="bilinear", align_corners=False))
        assert out.data_ptr() != src.data_ptr()
    at.fill_(7.0)
    as_.fill_(-7.0)
    assert torch.equal(t, t0) and torch.equal(s, s0)
