"""Every mixed-precision-quantization (MQ) proxy against a direct implementation.

The direct versions use plain torch on deep copies of the *float* model: bits are paired with
layers by ``BitSpace.layer_names`` (forward order), weights are quantized with
``quantize_weight_mse`` and the quantized network is rebuilt as "float copy with Q(W) weights +
pre-hooks that fake-quantize the inputs with the calibrated scales of the QuantizedNet". Nothing
from evoproxy.probe (base, quant) or the interpreter is used there; the library is reached only
through ``evaluate(program, collect(qnet, x, y, program.stats, seed=0))``.
"""
from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.probe import quant as qprobe
from evoproxy.lang.proxies import PROXIES
from evoproxy.spaces.quantized import quantize_model, quantize_weight_mse
from evoproxy.spaces.bitconfig import BitConfig, BitSpace
from evoproxy.spaces.resnet_cifar import resnet_cifar

from tests.directhelp import assert_close, library_score

SEED = 0
QE_STD = {2: 1.00892, 3: 1.04080}   # >= 4 bits: 1.04083


class Reordered(nn.Module):
    """Registered conv2, fc, conv1; they run conv1 -> conv2 -> fc."""

    def __init__(self) -> None:
        super().__init__()
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 5)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv2(torch.relu(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


@functools.lru_cache(maxsize=None)
def setup(which: str):
    """(model, space, cfg, qnet, x, y): a calibrated QuantizedNet and its float model."""
    torch.manual_seed(5)
    if which == "resnet8":
        model, hw = resnet_cifar(8).eval(), 32
        with torch.no_grad():   # non-trivial BN, so |.| and eval-mode BN matter
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.normal_(), m.bias.normal_(), m.running_mean.normal_()
                    m.running_var.uniform_(0.5, 1.5)
        space = BitSpace(model, input_shape=(1, 3, hw, hw))
        cfg = space.sample(np.random.default_rng(3), act_bits=4)
    else:
        model, hw = Reordered().eval(), 8
        space = BitSpace(model, first_last_bits=None, input_shape=(1, 3, hw, hw))
        cfg = BitConfig((3, 2, 8), act_bits=3)
    x, y = torch.randn(16, 3, hw, hw), torch.randint(0, 5, (16,))
    qnet = quantize_model(model, cfg, calib_x=torch.randn(8, 3, hw, hw),
                          reference_key=f"test-mq-direct-{which}")
    return model, space, cfg, qnet, x, y


def _layers(net: nn.Module, space: BitSpace, cfg: BitConfig):
    return [(n, net.get_submodule(n), b) for n, b in zip(space.layer_names, cfg.bits)]


def _quantized_copy(model, space, cfg, qnet, dtype=torch.float32, absolute=False) -> nn.Module:
    """Float copy (eval) with W := Q(W) and STE fake-quantized layer inputs."""
    net = copy.deepcopy(model).eval().to(dtype)
    with torch.no_grad():
        if absolute:
            for t in list(net.parameters()) + list(net.buffers()):
                if t.is_floating_point():
                    t.copy_(t.abs())
        for name, m, b in _layers(net, space, cfg):
            m.weight.copy_(quantize_weight_mse(m.weight, b))
            ql = qnet.net.get_submodule(name)
            scale, a = float(ql.act_scale), cfg.act_bits
            if scale > 0:
                lo, hi = (-(2 ** (a - 1) - 1), 2 ** (a - 1) - 1) if bool(ql.act_signed) else (0, 2 ** a - 1)

                def pre(mod, inp, s=scale, lo=lo, hi=hi):
                    z = inp[0]
                    q = (torch.round(z.detach() / s).clamp(lo, hi) * s)
                    return (q + (z - z.detach()),)
                m.register_forward_pre_hook(pre)
    return net


def direct_bparams(model, space, cfg, qnet, x, y) -> float:
    return float(sum(b * m.weight.numel() for _, m, b in _layers(model, space, cfg)))


def direct_bops(model, space, cfg, qnet, x, y) -> float:
    return float(sum(b * cfg.act_bits * mac for b, mac in zip(cfg.bits, space.macs)))


def direct_bsnip(model, space, cfg, qnet, x, y) -> float:
    net = _quantized_copy(model, space, cfg, qnet)
    F.cross_entropy(net(x), y).backward()
    return sum(b * float((net.get_submodule(n).weight.grad.double() * m.weight.detach().double()).abs().sum())
               for n, m, b in _layers(model, space, cfg))


def direct_bsynflow(model, space, cfg, qnet, x, y) -> float:
    net = _quantized_copy(model, space, cfg, qnet, torch.float64, absolute=True)
    net(torch.ones((1,) + tuple(x.shape[1:]), dtype=torch.float64)).sum().backward()
    return math.log1p(sum(b * float((net.get_submodule(n).weight.grad * m.weight.detach().double()).abs().sum())
                          for n, m, b in _layers(model, space, cfg)))


def _hessian_blocks(model, space, cfg, x, y):
    """(exact Hessian block of CE w.r.t. W_l at the float weights, ||W - Q(W)||^2, numel) per layer."""
    net = copy.deepcopy(model).eval()
    params = {k: v.detach() for k, v in net.named_parameters()}
    out = []
    for name, m, b in _layers(net, space, cfg):
        key = f"{name}.weight"
        loss = lambda w: F.cross_entropy(torch.func.functional_call(net, {**params, key: w}, (x,)), y)
        h = torch.autograd.functional.hessian(loss, params[key]).reshape(m.weight.numel(), -1)
        err = float((m.weight.detach() - quantize_weight_mse(m.weight, b)).double().square().sum())
        out.append((h.double(), err, m.weight.numel()))
    return out


def direct_hawq_v1(model, space, cfg, qnet, x, y) -> float:
    return -sum(float(torch.linalg.eigvalsh(h).max()) * e for h, e, _ in _hessian_blocks(model, space, cfg, x, y))


def direct_hawq_v2(model, space, cfg, qnet, x, y) -> float:
    return -sum(float(h.trace()) / n * e for h, e, n in _hessian_blocks(model, space, cfg, x, y))


def direct_ompq(model, space, cfg, qnet, x, y) -> float:
    """Linear CKA of column-centred layer outputs (float net, eval), theta = exp(-sum_{j!=l} CKA)."""
    net, feats = copy.deepcopy(model).eval(), {}
    for name, m, _ in _layers(net, space, cfg):
        m.register_forward_hook(lambda mod, i, o, n=name: feats.__setitem__(n, o.detach().clone()))
    with torch.no_grad():
        net(x)
    grams = []
    for name in space.layer_names:
        f = feats[name].reshape(len(x), -1).double()
        f = f - f.mean(dim=0, keepdim=True)
        grams.append(f @ f.T)
    cka = torch.tensor([[float((ki * kj).sum() / (ki.norm() * kj.norm())) for kj in grams] for ki in grams])
    theta = torch.exp(-(cka.sum(dim=1) - cka.diagonal()))
    return float((theta * torch.tensor(cfg.bits, dtype=torch.float64)).mean())


def direct_qe_score(model, space, cfg, qnet, x, y) -> float:
    sigma = lambda b: QE_STD.get(b, 1.04083)
    return sum(math.log(math.sqrt(m.weight[0].numel())) + math.log(sigma(b) * sigma(cfg.act_bits))
               for _, m, b in _layers(model, space, cfg))


MQ_DIRECT = {
    "bparams": direct_bparams, "bops": direct_bops, "bsnip": direct_bsnip, "bsynflow": direct_bsynflow,
    "hawq_v1": direct_hawq_v1, "hawq_v2": direct_hawq_v2, "ompq": direct_ompq, "qe_score": direct_qe_score,
}
HAWQ = {"hawq_v1": 0.02, "hawq_v2": 0.05}   # relative tolerance of the iterative estimates


def test_mq_proxies_are_the_mq_only_registered_proxies():
    assert {p.name for p in PROXIES.values() if p.lines == ("mq",)} == set(MQ_DIRECT)


def test_reordered_model_registers_layers_out_of_forward_order():
    model, space, cfg, *_ = setup("reordered")
    registered = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert registered != list(space.layer_names) and len(set(cfg.bits)) == len(cfg.bits)


@pytest.mark.parametrize("which", ["resnet8", "reordered"])
@pytest.mark.parametrize("name", sorted(set(MQ_DIRECT) - set(HAWQ)))
def test_mq_proxy_matches_direct_implementation(name, which):
    model, space, cfg, qnet, x, y = setup(which)
    assert_close(library_score(name, qnet, x, y), MQ_DIRECT[name](model, space, cfg, qnet, x, y), nonzero=True)


@pytest.mark.parametrize("name", sorted(HAWQ))
@pytest.mark.slow
def test_hawq_matches_exact_hessian_blocks(name, monkeypatch):
    monkeypatch.setattr(qprobe, "HUTCHINSON_SAMPLES", 4000)
    monkeypatch.setattr(qprobe, "POWER_ITERATIONS", 300)
    monkeypatch.setattr(qprobe, "_MEMO", {})
    model, space, cfg, qnet, x, y = setup("reordered")
    assert_close(library_score(name, qnet, x, y), MQ_DIRECT[name](model, space, cfg, qnet, x, y), HAWQ[name],
                 nonzero=True)
