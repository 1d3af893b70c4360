"""Tests for the plain-torch ImageNet ResNet-18 and MobileNetV2."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from evoproxy.errors import EvoproxyError
from evoproxy.spaces.bitconfig import BitSpace
from evoproxy.spaces.imagenet_models import build_imagenet_model, mobilenet_v2, resnet18

SMALL = (1, 3, 64, 64)


@pytest.fixture(scope="module")
def nets() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"resnet18": build_imagenet_model("resnet18"), "mobilenet_v2": build_imagenet_model("mobilenet_v2")}


@pytest.mark.parametrize("name,count", [("resnet18", 11_689_512), ("mobilenet_v2", 3_504_872)])
def test_param_counts_match_torchvision(nets: dict[str, nn.Module], name: str, count: int) -> None:
    assert sum(p.numel() for p in nets[name].parameters()) == count


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_forward_shape(nets: dict[str, nn.Module], name: str) -> None:
    net = nets[name].eval()
    with torch.no_grad():
        assert net(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


def test_forward_full_resolution_and_num_classes() -> None:
    with torch.no_grad():
        assert resnet18(10).eval()(torch.zeros(1, 3, 224, 224)).shape == (1, 10)
        assert mobilenet_v2(7, width_mult=0.5).eval()(torch.zeros(1, 3, 96, 96)).shape == (1, 7)


@pytest.mark.parametrize("name,n_layers,first,last", [
    ("resnet18", 21, "conv1", "fc"),
    ("mobilenet_v2", 53, "features.0.0", "classifier.1"),
])
def test_bitspace_layers(nets: dict[str, nn.Module], name: str, n_layers: int, first: str, last: str) -> None:
    space = BitSpace(nets[name], input_shape=SMALL)
    assert space.n_layers == n_layers
    assert space.layer_names[0] == first and space.layer_names[-1] == last
    if name == "resnet18":
        assert sum("downsample" in n for n in space.layer_names) == 3


def test_init() -> None:
    torch.manual_seed(0)
    net = mobilenet_v2()
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(m.weight == 1) and torch.all(m.bias == 0) for m in bns)
    fc = net.classifier[1]
    assert torch.all(fc.bias == 0) and abs(fc.weight.std().item() - 0.01) < 1e-3


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(EvoproxyError, match="resnet18.*mobilenet_v2"):
        build_imagenet_model("vgg16")
    with pytest.raises(EvoproxyError):
        resnet18(0)
