"""Numerical range on deep networks: synflow's product over depth is rescaled exactly at the
network's cut points, so every classic proxy stays finite and rank-preserving at 1,202 layers."""
import math

import pytest
import torch

from evoproxy.lang.interpret import eval_node
from evoproxy.lang.proxies import PROXIES
from evoproxy.probe.passes import standard as passes
from evoproxy.probe.base import collect
from evoproxy.spaces.resnet_cifar import resnet_cifar
from tests.lang.test_proxies_direct import direct_synflow

NAS_PROXIES = [n for n in PROXIES if "nas" in PROXIES.get(n).lines]


def _net(depth: int):
    torch.manual_seed(0)
    return resnet_cifar(depth)


def _proxy(name, stats) -> float:
    return float(eval_node(PROXIES.get(name).program, stats, {}))


def _synflow(model, monkeypatch=None, force: bool = False) -> tuple[float, float]:
    if force:  # rescale even where the plain pass is in range
        monkeypatch.setattr(passes, "SYNFLOW_MAX", 1e30)
    x = torch.zeros(1, 3, 32, 32)
    stats = collect(model, x, torch.zeros(1, dtype=torch.long), {"virtual_grad", "weight", "virtual_grad_scale"})
    return _proxy("synflow", stats), float(stats["virtual_grad_scale"])


def test_a_network_in_range_is_not_rescaled_and_matches_the_direct_synflow():
    model = _net(56)
    value, scale = _synflow(model)
    assert scale == 0.0
    assert value == pytest.approx(direct_synflow(model, torch.zeros(1, 3, 32, 32), None), rel=1e-12)


def test_rescaling_is_exact(monkeypatch):
    model = _net(56)
    plain, _ = _synflow(model)
    rescaled, scale = _synflow(model, monkeypatch, force=True)
    assert scale > 50   # the magnitude beyond 1e30 went to the scale ...
    assert rescaled == pytest.approx(plain, rel=1e-9)   # ... and log(synflow) is unchanged


def test_the_plain_computation_overflows_where_the_rescaled_one_does_not():
    model = _net(272)
    assert math.isnan(direct_synflow(model, torch.zeros(1, 3, 32, 32), None))   # float64 runs out
    value, scale = _synflow(model)
    assert math.isfinite(value) and scale > 0


@pytest.mark.slow
def test_every_classic_nas_proxy_is_finite_and_synflow_keeps_its_order_at_1202_layers():
    x, y = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1, 2, 3])
    deep = _net(1202)
    names = {s for n in NAS_PROXIES for s in PROXIES.get(n).program.stats}
    stats = collect(deep, x, y, names)
    values = {n: _proxy(n, stats) for n in NAS_PROXIES}
    assert all(math.isfinite(v) for v in values.values()), values
    order = [_synflow(_net(d))[0] for d in (110, 272, 542, 1202)]
    assert order == sorted(order)   # deeper ResNets have more synaptic flow, as the plain values show
