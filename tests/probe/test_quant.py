"""Post-training quantization runtime and the quantization statistics."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from evoproxy.probe import quant as qprobe
from evoproxy.lang.interpret import evaluate_many
from evoproxy.probe.base import collect
from evoproxy.lang.proxies import PROXIES
from evoproxy.spaces.quantized import QuantizedNet, quantize_model, quantize_weight_mse
from evoproxy.spaces.bitconfig import BitConfig, BitSpace, quantize_weight
from evoproxy.spaces.resnet_cifar import resnet_cifar


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return resnet_cifar(8).eval()


@pytest.fixture(scope="module")
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(16, 3, 32, 32, generator=g), torch.randint(0, 10, (16,), generator=g)


def _cfg(space: BitSpace, seed: int = 0) -> BitConfig:
    import numpy as np
    return space.sample(np.random.default_rng(seed))


def test_mse_clip_never_worse_than_minmax_and_leaves_input() -> None:
    w = torch.randn(8, 4, 3, 3)
    before = w.clone()
    for bits in (2, 3, 4, 8):
        q = quantize_weight_mse(w, bits)
        err_mse = (q - w).square().flatten(1).sum(1)
        err_minmax = (quantize_weight(w, bits) - w).square().flatten(1).sum(1)
        assert torch.all(err_mse <= err_minmax + 1e-6)
        assert max(len(torch.unique(row)) for row in q.flatten(1)) <= 2 ** bits - 1
    assert torch.equal(w, before)


def test_quantize_model_leaves_reference_and_computes_with_qweights(net, batch) -> None:
    space = BitSpace(net)
    cfg = _cfg(space)
    before = copy.deepcopy(net.state_dict())
    qnet = quantize_model(net, cfg)  # no calibration: activations stay float
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    baked = copy.deepcopy(net)
    layers = dict(baked.named_modules())
    with torch.no_grad():
        for name, bits in zip(space.layer_names, cfg.bits):
            layers[name].weight.copy_(quantize_weight_mse(layers[name].weight, bits))
        assert torch.allclose(qnet(batch[0]), baked(batch[0]), atol=1e-5)
        assert not torch.allclose(qnet(batch[0]), net(batch[0]), atol=1e-3)


def test_quantized_net_stays_in_eval_and_grads_are_straight_through(net, batch) -> None:
    cfg = _cfg(BitSpace(net), 1)
    qnet = quantize_model(net, cfg, calib_x=batch[0])
    qnet.train()
    assert all(not m.training for m in qnet.net.modules())
    x, y = batch
    nn.functional.cross_entropy(qnet(x), y).backward()
    baked = copy.deepcopy(qnet.net)
    for m in baked.modules():  # the same network with Q(W) as plain weights
        if hasattr(m, "qweight"):
            with torch.no_grad():
                m.weight.copy_(m.qweight())
            m.bits = 32
    baked.zero_grad()
    nn.functional.cross_entropy(baked(x), y).backward()
    q_layers = [m for m in qnet.net.modules() if hasattr(m, "qweight")]
    b_layers = [m for m in baked.modules() if hasattr(m, "qweight")]
    for a, b in zip(q_layers, b_layers):
        assert torch.allclose(a.weight.grad, b.weight.grad, atol=1e-5)


def test_activation_calibration_quantizes_inputs(net, batch) -> None:
    cfg = BitSpace(net).uniform(8)
    qnet = quantize_model(net, cfg, calib_x=batch[0])
    scales = [float(m.act_scale) for m in qnet.qlayers()]
    assert scales[0] == 0.0 and all(s > 0 for s in scales[1:])   # the image is not quantized
    layer = qnet.qlayers()[2]
    seen = []
    handle = layer.register_forward_pre_hook(lambda m, inp: seen.append(inp[0]))
    with torch.no_grad():
        qnet(batch[0])
        handle.remove()
        xq, _ = layer._inputs_weight(seen[0])
    scale = float(layer.act_scale)
    assert 2 < len(torch.unique(xq)) <= 2 ** 8
    assert (xq - seen[0]).abs().max() <= scale / 2 + 1e-6 and not torch.equal(xq, seen[0])


def test_quant_statistics_on_float_and_quantized(net, batch) -> None:
    x, y = batch
    cfg = _cfg(BitSpace(net), 2)
    names = ["bits", "act_bits", "qweight", "qerror", "weight", "quant_std"]
    plain = collect(net, x, y, names)
    assert torch.all(plain["bits"] == 32) and all(torch.all(e == 0) for e in plain["qerror"])
    assert torch.all(plain["quant_std"] == 1)
    q = collect(quantize_model(net, cfg), x, y, names)
    assert q["bits"].tolist() == list(cfg.bits)
    for w, qw, e in zip(q["weight"], q["qweight"], q["qerror"]):
        assert torch.allclose(w - qw, e)
    assert any(e.abs().sum() > 0 for e in q["qerror"])


def test_size_proxies_agree_with_the_bit_space(net, batch) -> None:
    space = BitSpace(net)
    for seed in range(3):
        cfg = _cfg(space, seed)
        stats = collect(quantize_model(net, cfg), *batch, ["bits", "numel", "act_bits", "macs"])
        bparams, bops = evaluate_many([PROXIES.get("bparams").program, PROXIES.get("bops").program], stats)
        assert bparams == space.size_bits(cfg)
        assert bops == pytest.approx(space.bops(cfg))


def test_hutchinson_trace_and_power_iteration_match_exact_hessian(monkeypatch) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 3))
    x, y = torch.randn(20, 1, 2, 3), torch.randint(0, 3, (20,))
    w = model[1].weight

    def loss_of(flat: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(nn.functional.linear(x.flatten(1), flat.view(3, 6), model[1].bias), y)

    hess = torch.autograd.functional.hessian(loss_of, w.detach().flatten())
    monkeypatch.setattr(qprobe, "HUTCHINSON_SAMPLES", 3000)
    monkeypatch.setattr(qprobe, "POWER_ITERATIONS", 200)
    stats = collect(model, x, y, ["hess_trace", "hess_eig"])
    assert float(stats["hess_trace"][0]) == pytest.approx(float(hess.trace()), rel=0.05)
    assert float(stats["hess_eig"][0]) == pytest.approx(float(torch.linalg.eigvalsh(hess).max()), rel=0.02)


def test_float_statistics_are_shared_by_every_configuration(net, batch) -> None:
    space = BitSpace(net)
    a = collect(quantize_model(net, space.uniform(2), reference_key="ref"), *batch, ["hess_trace", "orthogonality"])
    b = collect(quantize_model(net, space.uniform(8), reference_key="ref"), *batch, ["hess_trace", "orthogonality"])
    assert torch.equal(a["hess_trace"], b["hess_trace"])
    theta = a["orthogonality"]
    assert theta.shape == (space.n_layers,) and torch.all((theta > 0) & (theta <= 1))


def test_quantized_net_float_copy_is_the_reference(net, batch) -> None:
    qnet = quantize_model(net, BitSpace(net).uniform(2))
    assert isinstance(qnet, QuantizedNet)
    with torch.no_grad():
        assert torch.allclose(qnet.float_copy()(batch[0]), net(batch[0]), atol=1e-6)
