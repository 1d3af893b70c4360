"""Tests for the CIFAR ResNet and the mixed-precision bit-config space."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import (BitConfig, BitSpace, quantize_weight, quantizable_layers,
                                       quantized_copy)
from evoproxy.spaces.resnet_cifar import resnet_cifar


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return resnet_cifar(20)


@pytest.fixture(scope="module")
def space(net: nn.Module) -> BitSpace:
    return BitSpace(net)


def _expected_order() -> list[str]:
    names = ["conv1"]
    for s in (1, 2, 3):
        for j in range(3):
            names += [f"layer{s}.{j}.conv1", f"layer{s}.{j}.conv2"]
            if s > 1 and j == 0:
                names.append(f"layer{s}.{j}.shortcut.0")
    return names + ["fc"]


def test_param_count_and_forward(net: nn.Module) -> None:
    n = sum(p.numel() for p in net.parameters())
    assert abs(n - 0.27e6) / 0.27e6 < 0.02
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_bad_depth_raises() -> None:
    with pytest.raises(EvoproxyError):
        resnet_cifar(21)


def test_layer_order_and_count(net: nn.Module) -> None:
    names = [n for n, _ in quantizable_layers(net)]
    n_modules = sum(isinstance(m, (nn.Conv2d, nn.Linear)) for m in net.modules())
    assert names == _expected_order()
    assert len(names) == n_modules == 22  # 1 stem + 18 block convs + 2 projections + fc


def test_tracing_keeps_mode_and_bn_stats(net: nn.Module) -> None:
    net.train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    quantizable_layers(net)
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_canonical_round_trip() -> None:
    cfg = BitConfig((8, 4, 2, 3, 8), act_bits=6)
    assert cfg.canonical == "w8-4-2-3-8|a6"
    assert BitConfig.parse(cfg.canonical) == cfg
    assert BitConfig.parse("w8|a8") == BitConfig((8,))


@pytest.mark.parametrize("text", ["", "8-4|a8", "w8-4", "w8--4|a8", "w8-x|a8", "w8-4|a", "w8-1|a8", "w8|a40"])
def test_parse_bad_text_raises(text: str) -> None:
    with pytest.raises(EvoproxyError):
        BitConfig.parse(text)


def test_validate_rejects_bad_configs(space: BitSpace) -> None:
    n = space.n_layers
    space.validate(space.uniform(4))
    bad = [(8,) * (n - 1), (4,) + (8,) * (n - 1), (8,) + (5,) * (n - 2) + (8,)]
    for bits in bad:
        with pytest.raises(EvoproxyError):
            space.validate(BitConfig(bits))
    with pytest.raises(EvoproxyError):
        space.uniform(5)


def test_sample_fixed_ends_and_deterministic(space: BitSpace) -> None:
    cfgs = [space.sample(np.random.default_rng(7)) for _ in range(2)]
    assert cfgs[0] == cfgs[1]
    many = [space.sample(np.random.default_rng(s)) for s in range(20)]
    for cfg in many:
        space.validate(cfg)
        assert cfg.bits[0] == cfg.bits[-1] == 8
    assert len({c.bits for c in many}) > 1


def test_size_and_bops(net: nn.Module, space: BitSpace) -> None:
    n_w = sum(m.weight.numel() for _, m in quantizable_layers(net))
    assert space.size_bits(space.uniform(8)) == 8 * n_w
    assert space.size_mb(space.uniform(8)) == 8 * n_w / 8 / 2**20
    bops = [space.bops(space.uniform(b)) for b in space.choices]
    assert all(a < b for a, b in zip(bops, bops[1:]))
    assert space.bops(space.uniform(8, act_bits=4)) == bops[-1] / 2
    assert space.macs[0] == 16 * 32 * 32 * 3 * 9 and space.macs[-1] == 64 * 10


def _rel_err(w: torch.Tensor, bits: int) -> float:
    return float((quantize_weight(w, bits) - w).norm() / w.norm())


def test_quantize_weight_error_and_levels() -> None:
    w = torch.randn(16, 8, 3, 3, generator=torch.Generator().manual_seed(0))
    assert _rel_err(w, 8) < 0.01
    assert _rel_err(w, 2) > _rel_err(w, 4) > _rel_err(w, 8)
    for bits in (2, 3, 4, 8):
        q = quantize_weight(w, bits).reshape(16, -1)
        assert all(len(torch.unique(row)) <= 2**bits - 1 for row in q)


def test_quantize_weight_zero_channel_and_no_mutation() -> None:
    w = torch.randn(4, 5)
    w[2] = 0.0
    before = w.clone()
    q = quantize_weight(w, 3)
    assert torch.equal(w, before) and q is not w
    assert torch.equal(q[2], torch.zeros(5)) and not torch.isnan(q).any()


def test_quantized_copy_leaves_original(net: nn.Module, space: BitSpace) -> None:
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = space.sample(np.random.default_rng(0))
    qnet = quantized_copy(net, cfg)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not torch.equal(qnet.layer1[0].conv1.weight, net.layer1[0].conv1.weight)
    w = qnet.layer2[0].conv1.weight.reshape(32, -1)
    assert all(len(torch.unique(row)) <= 2 ** cfg.bits[space.layer_names.index("layer2.0.conv1")] - 1 for row in w)
    qnet.eval()
    out = qnet(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()


def test_quantized_copy_wrong_length_raises(net: nn.Module) -> None:
    with pytest.raises(EvoproxyError):
        quantized_copy(net, BitConfig((8, 8)))
