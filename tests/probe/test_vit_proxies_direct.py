"""The ViT-line proxies (teacher-student), as registered in the proxy language, against direct
implementations.

The direct versions below are plain torch on deep copies of a :class:`DistillPair`'s student
(a ``cifar-vit`` AutoFormer-style net or a PiT) and teacher (a CIFAR ResNet-20, eval mode). They
use nothing from :mod:`evoproxy.probe.base`, :mod:`evoproxy.probe.teacher` (beyond the pair itself),
:mod:`evoproxy.lang.ops` / :mod:`evoproxy.lang.ops.teacher` or the evaluator; the library is reached only through
``evaluate(PROXIES.get(name).program, collect(pair, x, y, program.stats, seed=0))``.
"""
from __future__ import annotations

import copy
import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe import teacher as kdprobe
from evoproxy.probe.teacher import DistillPair
from evoproxy.probe.base import collect
from evoproxy.lang.proxies import PROXIES, proxies_for
from evoproxy.spaces.resnet_cifar import resnet_cifar
from evoproxy.spaces.vit import build_vit, count_params, vit_flops

from tests.directhelp import assert_close, library_score

LAYERS = (nn.Conv2d, nn.Linear)
REL_TOL = 1e-5
SEED = 0
STUDENTS = {
    "cifar-vit": ("cifar-vit", {"hidden_dim": 64, "depth": 3, "mlp_ratio": [2.0, 3.0, 2.0],
                                "num_heads": [2, 4, 2]}),
    "pit": ("pit", {"base_dim": 16, "mlp_ratio": 2, "depth": [1, 1, 1], "num_heads": [2, 2, 2]}),
}


# ---- the pair and the batch --------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def teacher() -> nn.Module:
    torch.manual_seed(10)
    return resnet_cifar(20).eval()


@functools.lru_cache(maxsize=None)
def pair(which: str) -> DistillPair:
    space, arch = STUDENTS[which]
    torch.manual_seed(11)
    student = build_vit(space, arch)
    return DistillPair(student, teacher(), "test-teacher", macs_m=vit_flops(arch, space) / 1e6)


def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)


@pytest.fixture(autouse=True)
def _fresh_teacher_memo():
    """Teacher outputs are memoised by (teacher key, batch): start every test without them."""
    kdprobe._MEMO.clear()
    yield
    kdprobe._MEMO.clear()


# ---- direct pieces -----------------------------------------------------------------------------

def _teacher_run(p: DistillPair, x, y) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Teacher stage outputs and the CE gradient of ``fc.weight`` (eval mode, a private copy)."""
    net = copy.deepcopy(p.teacher).eval()
    for q in net.parameters():
        q.requires_grad_(True)
        q.grad = None
    feats, logits = net.forward_features(x)
    F.cross_entropy(logits, y).backward()
    return [f.detach() for f in feats], net.fc.weight.grad.detach().clone()


def _student_run(p: DistillPair, x, y) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Student feature maps and the CE gradient of ``head.weight`` (a private copy)."""
    net = copy.deepcopy(p.student).train()
    for q in net.parameters():
        q.grad = None
    feats, logits = net.forward_features(x)
    F.cross_entropy(logits, y).backward()
    return [f.detach() for f in feats], net.head.weight.grad.detach().clone()


def _resize_pair(t: torch.Tensor, s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both maps bilinearly resized (align_corners=False) to the larger of their grids."""
    th, tw = t.shape[-2:]
    sh, sw = s.shape[-2:]
    size = (th, tw) if th * tw >= sh * sw else (sh, sw)

    def go(m):
        if tuple(m.shape[-2:]) == size:
            return m.double()
        return F.interpolate(m.double(), size=size, mode="bilinear", align_corners=False)
    return go(t), go(s)


def _aligned_last(p: DistillPair, x, y) -> tuple[torch.Tensor, torch.Tensor]:
    t_feats, _ = _teacher_run(p, x, y)
    s_feats, _ = _student_run(p, x, y)
    assert len(t_feats) == len(s_feats) == 3
    return _resize_pair(t_feats[-1], s_feats[-1])


def _attention_map(f: torch.Tensor) -> torch.Tensor:
    """Channel mean of squares, one row per sample, each row scaled to unit L2 norm."""
    a = f.double().pow(2).mean(dim=1).reshape(f.shape[0], -1)
    return a / a.norm(dim=1, keepdim=True)


def _gram_batch(m: torch.Tensor) -> torch.Tensor:
    r = m.double().reshape(m.shape[0], -1)
    r = r / r.norm(dim=1, keepdim=True)
    return r @ r.T


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape
    return float((a.double() - b.double()).pow(2).mean())


def _student_layers_in_forward_order(p: DistillPair, x) -> list[nn.Module]:
    net = copy.deepcopy(p.student)
    order: list[nn.Module] = []
    handles = [m.register_forward_pre_hook(lambda m, i: order.append(m) if m not in order else None)
               for m in net.modules() if isinstance(m, LAYERS)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    names = {id(m): n for n, m in net.named_modules()}
    by_name = dict(p.student.named_modules())
    return [by_name[names[id(m)]] for m in order]


def _student_act_grads(p: DistillPair, x, y) -> list[torch.Tensor]:
    """dCE/d(output) of every Conv2d/Linear of the student, in forward order."""
    net = copy.deepcopy(p.student).train()
    outs: list[torch.Tensor] = []
    seen: set[int] = set()

    def hook(m, inputs, out):
        assert id(m) not in seen, "a layer ran twice"
        seen.add(id(m))
        outs.append(out)
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, LAYERS)]
    loss = F.cross_entropy(net(x), y)
    for h in handles:
        h.remove()
    return [g.detach() for g in torch.autograd.grad(loss, outs)]


# ---- the proxies, from their formulas in evoproxy/proxies.py -----------------------------------

def _capability(p: DistillPair) -> float:
    """sum of every student Conv2d/Linear weight's Frobenius norm."""
    return sum(float(m.weight.detach().double().norm()) for m in p.student.modules() if isinstance(m, LAYERS))


def _teacher_attention_mse(p: DistillPair, x, y) -> float:
    t, s = _aligned_last(p, x, y)
    return _mse(_attention_map(t), _attention_map(s))


def direct_tvt_teacher(p: DistillPair, x, y) -> float:
    """negate(layer_last(mse(attention_map(t_feat), attention_map(s_feat))))."""
    return -_teacher_attention_mse(p, x, y)


def direct_tvt(p: DistillPair, x, y) -> float:
    """div(layer_sum(l2(weight)), layer_last(mse(attention_map(t_feat), attention_map(s_feat))))."""
    return _capability(p) / _teacher_attention_mse(p, x, y)


def direct_diswot(p: DistillPair, x, y) -> float:
    """-(mse(G(teacher fc grad), G(student head grad)) + mse(G(last t_feat), G(last s_feat)))."""
    _, t_grad = _teacher_run(p, x, y)
    _, s_grad = _student_run(p, x, y)
    semantic = _mse(_gram_batch(t_grad), _gram_batch(s_grad))
    t, s = _aligned_last(p, x, y)
    relation = _mse(_gram_batch(t), _gram_batch(s))
    return -(semantic + relation)


def direct_autoprox(p: DistillPair, x, y) -> float:
    """mean_l ||minmax(W_l)||_F + mean_l mean(sqrt(sigmoid(dCE/d out_l)))."""
    weights = [m.weight.detach().double() for m in _student_layers_in_forward_order(p, x)]
    first = sum(float(((w - w.min()) / (w.max() - w.min())).norm()) for w in weights) / len(weights)
    grads = _student_act_grads(p, x, y)
    assert len(grads) == len(weights)
    second = sum(float(torch.sqrt(torch.sigmoid(g.double())).mean()) for g in grads) / len(grads)
    return first + second


VIT_DIRECT = {"tvt_teacher": direct_tvt_teacher, "tvt": direct_tvt, "diswot": direct_diswot,
              "autoprox": direct_autoprox}


# ---- tests -------------------------------------------------------------------------------------

def test_vit_direct_covers_the_vit_only_proxies():
    vit_only = {n for n in proxies_for("vit") if PROXIES.get(n).lines == ("vit",)}
    assert set(VIT_DIRECT) == vit_only


@pytest.mark.parametrize("student", sorted(STUDENTS))
@pytest.mark.parametrize("name", sorted(VIT_DIRECT))
def test_vit_proxy_matches_direct_implementation(name, student):
    p = pair(student)
    x, y = batch()
    torch.manual_seed(SEED)
    want = VIT_DIRECT[name](p, x, y)
    torch.manual_seed(SEED)
    assert_close(library_score(name, p, x, y), want, REL_TOL)


def test_pit_last_pair_is_resized():
    """The PiT's last map (4x4) is upsampled to the teacher's (8x8): the test exercises resizing."""
    x, y = batch()
    t_feats, _ = _teacher_run(pair("pit"), x, y)
    s_feats, _ = _student_run(pair("pit"), x, y)
    assert [tuple(f.shape[-2:]) for f in t_feats] == [(32, 32), (16, 16), (8, 8)]
    assert [tuple(f.shape[-2:]) for f in s_feats] == [(16, 16), (8, 8), (4, 4)]


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_library_act_grads_are_the_students_output_grads(student):
    """autoprox's gradient term is ~sqrt(0.5) for small grads; check its input tensor by tensor."""
    p = pair(student)
    x, y = batch()
    got = collect(p, x, y, ["act_grad", "weight"], seed=SEED)
    want = _student_act_grads(p, x, y)
    assert len(got["act_grad"]) == len(want) == len(got["weight"])
    for a, b in zip(got["act_grad"], want):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-9)
    for w, m in zip(got["weight"], _student_layers_in_forward_order(p, x)):
        assert torch.equal(w, m.weight.detach())


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_whole_network_stats_describe_the_student_alone(student):
    p = pair(student)
    x, y = batch()
    assert library_score("params", p, x, y) == count_params(p.student)
    assert library_score("flops", p, x, y) == pytest.approx(p.macs_m, rel=1e-12)
    assert_close(library_score("tvt_capability", p, x, y), _capability(p), REL_TOL)
