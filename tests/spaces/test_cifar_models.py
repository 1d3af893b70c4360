"""The CIFAR-10 networks ``evoproxy train`` builds: the MobileNetV2-style one beside the ResNets."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitSpace
from evoproxy.spaces.cifar_models import MODELS, build_model
from evoproxy.spaces.quantized import quantize_model


def test_mobilenet_has_depthwise_inverted_residuals_and_four_resolutions() -> None:
    torch.manual_seed(0)
    net = build_model("mobilenetv2").eval()
    x = torch.randn(2, 3, 32, 32)
    stages, logits = net.forward_features(x)
    assert logits.shape == (2, 10) and torch.equal(net(x), logits)
    assert [s.shape[-1] for s in stages] == [32, 16, 8, 4]
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    depthwise = [m for m in convs if m.groups > 1]
    assert len(depthwise) == 9 and all(m.groups == m.in_channels == m.out_channels for m in depthwise)
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in build_model("resnet20").parameters())
    assert len(net.probe_blocks()) == 11


def test_mobilenet_quantizes_per_layer_without_touching_the_float_network() -> None:
    net = build_model("mobilenetv2").eval()
    space = BitSpace(net)
    assert space.n_layers == 29 and space.fixed_bits(0) == space.fixed_bits(space.n_layers - 1) == 8
    before = {k: v.clone() for k, v in net.state_dict().items()}
    q2, q8 = (quantize_model(net, space.uniform(b), None) for b in (2, 8))
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        err2, err8 = ((q(x) - net(x)).abs().mean() for q in (q2, q8))
    assert err8 < err2
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_unknown_model_lists_the_choices() -> None:
    assert {"resnet20", "mobilenetv2"} <= set(MODELS)
    with pytest.raises(EvoproxyError, match="mobilenetv2"):
        build_model("mobilenetv3")
