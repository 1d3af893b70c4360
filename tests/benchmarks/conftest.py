"""Shared by the MQ tests: a small untrained ResNet-8 checkpoint and its bit space."""
import pytest
import torch

from evoproxy.benchmarks.checkpoints import load_reference
from evoproxy.spaces.bitconfig import BitSpace
from evoproxy.spaces.resnet_cifar import resnet_cifar
from evoproxy.training.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "r8.pt"
    save_checkpoint(path, resnet_cifar(8), {"arch": "resnet8"})
    return path


@pytest.fixture(scope="module")
def space(checkpoint) -> BitSpace:
    return BitSpace(load_reference(checkpoint, "resnet8")[0])
