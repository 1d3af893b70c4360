"""A module called more than once per forward pass (weight sharing, one attention module shared by
every block as in DIA-ResNets): each call is its own layer occurrence, in forward order, with its own
activation; the module's weight statistics stand at each of its occurrences, so every per-layer list
stays aligned, and every proxy that applies to a CNN scores it."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from evoproxy.lang.interpret import evaluate_many
from evoproxy.lang.proxies import PROXIES
from evoproxy.lang.ranks import all_network_parts, combine
from evoproxy.lang.stats import STATS
from evoproxy.probe.base import collect
from evoproxy.probe.passes import fisher
from evoproxy.scoring.score import needed_stats

C = 8


class Stage(nn.Module):
    def __init__(self, conv: nn.Conv2d, pool: bool) -> None:
        super().__init__()
        self.conv, self.bn, self.pool = conv, nn.BatchNorm2d(conv.out_channels), pool

    def forward(self, h):
        return F.relu(self.bn(self.conv(F.max_pool2d(h, 2) if self.pool else h)))


class Reuse(nn.Module):
    """One Conv2d called by two stages (at two resolutions) and one Linear called twice by the head."""

    def __init__(self) -> None:
        super().__init__()
        conv = nn.Conv2d(C, C, 3, padding=1, bias=False)
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
        self.stages = nn.ModuleList([Stage(conv, False), Stage(conv, True)])
        self.fc, self.out = nn.Linear(C, C), nn.Linear(C, 10)

    def probe_blocks(self):
        return [self.stem, *self.stages]

    def forward(self, x):
        h = self.stem(x)
        for stage in self.stages:
            h = stage(h)
        return self.out(F.relu(self.fc(F.relu(self.fc(h.mean((2, 3)))))))


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(c, c // 2), nn.Linear(c // 2, c)

    def forward(self, h):
        return h * torch.sigmoid(self.fc2(F.relu(self.fc1(h.mean((2, 3))))))[:, :, None, None]


class Block(nn.Module):
    def __init__(self, c: int, attention: nn.Module) -> None:
        super().__init__()
        self.conv, self.bn, self.attention = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), attention

    def forward(self, h):
        return F.relu(h + self.attention(self.bn(self.conv(h))))


class SharedAttention(nn.Module):
    """A DIA-style residual network: one attention module (squeeze-excitation) shared by its three blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, C, 3, padding=1, bias=False), nn.BatchNorm2d(C), nn.ReLU())
        attention = SqueezeExcite(C)
        self.blocks = nn.ModuleList(Block(C, attention) for _ in range(3))
        self.head = nn.Linear(C, 10)

    def probe_blocks(self):
        return [self.stem, *self.blocks]

    def forward(self, x):
        h = self.stem(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h.mean((2, 3)))


NETS = {"reuse": Reuse, "shared_attention": SharedAttention}
CALLS = {"reuse": 6, "shared_attention": 11}   # reuse: stem, conv, conv, fc, fc, out; 1 + 3 x (conv, fc1, fc2) + 1
PER_LAYER = ["weight", "grad", "act", "act_grad", "fan_in", "numel", "macs", "act_single", "grad_split",
             "grad_each", "virtual_grad", "hess_grad", "qweight", "qerror", "bits", "act_bits", "quant_std",
             "hess_trace", "hess_eig", "orthogonality"]
LIKE_WEIGHT = ["grad", "virtual_grad", "hess_grad", "qweight", "qerror"]
OF_MODULE = ["fan_in", "numel", "bits", "hess_trace", "hess_eig"]   # one number per module


def _net(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return NETS[name]()


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)


def _calls(net: nn.Module, x, y) -> list[tuple[nn.Module, torch.Tensor, torch.Tensor]]:
    """(module, output, d cross-entropy / d output) for each call of a Conv2d/Linear of a train-mode
    copy of ``net``, in the order they run."""
    net = copy.deepcopy(net).train()
    seen = []

    def keep(m, args, out):
        out.retain_grad()
        seen.append((m, out))
    hooks = [m.register_forward_hook(keep) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    F.cross_entropy(net(x), y).backward()
    for h in hooks:
        h.remove()
    return [(m, out.detach(), out.grad) for m, out in seen]


@pytest.mark.parametrize("name", list(NETS))
def test_every_per_layer_list_has_one_entry_per_call_in_forward_order(name):
    net, (x, y) = _net(name), _batch()
    s = collect(net, x, y, PER_LAYER, strict=True)
    calls = _calls(net, x, y)
    assert len(calls) == CALLS[name]
    assert {n: len(s[n]) for n in PER_LAYER} == {n: len(calls) for n in PER_LAYER}
    for i, (m, out, out_grad) in enumerate(calls):
        torch.testing.assert_close(s["weight"][i], m.weight, rtol=0, atol=0)   # this call's module
        torch.testing.assert_close(s["act"][i], out)                           # this call's own output
        torch.testing.assert_close(s["act_grad"][i], out_grad)
        assert s["act_single"][i].shape[1:] == out.shape[1:]
        assert all(s[n][i].shape == m.weight.shape for n in LIKE_WEIGHT)
        assert s["grad_split"][i].shape[1:] == s["grad_each"][i].shape[1:] == m.weight.shape
        assert float(s["macs"][i]) == m.weight[0].numel() * out[0].numel()
        for j, (other, _, _) in enumerate(calls[:i]):   # one module: one tensor at each occurrence, not copies
            assert (s["weight"][i] is s["weight"][j]) == (s["grad"][i] is s["grad"][j]) == (m is other)
            if m is other:
                assert all(float(s[n][i]) == float(s[n][j]) for n in OF_MODULE)
    assert float(collect(net, x, y, ["flops"])["flops"]) == pytest.approx(float(s["macs"].sum()) / 1e6)


def _scores(programs, nets, x, y) -> np.ndarray:
    """(programs x networks) scores, each network probed once (strict: a failing pass raises)."""
    parts = all_network_parts(programs)
    stats = needed_stats(parts)
    matrix = np.array([evaluate_many(parts, collect(net, x, y, stats, strict=True)) for net in nets]).T
    return combine(programs, parts, matrix)


def _proxies(names) -> dict[str, np.ndarray]:
    x, y = _batch()
    nets = [_net(name, seed) for name in NETS for seed in (0, 1)]
    scores = _scores([PROXIES.get(n).program for n in names], nets, x, y)
    return dict(zip(names, scores))


def test_meco_naswot_zico_swap_and_aznas_score_a_shared_attention_module():
    got = _proxies(["meco", "nwot", "zico", "swap", "aznas"])
    assert {n: bool(np.isfinite(v).all()) for n, v in got.items()} == dict.fromkeys(got, True), got


CNN_PROXIES = [p.name for p in PROXIES.values()
               if not any(STATS.get(s).pass_name == "kd" for s in p.program.stats)]   # not the ViT-teacher ones


def test_every_registered_cnn_proxy_scores_networks_that_share_layers():
    got = _proxies(CNN_PROXIES)
    bad = {n: v for n, v in got.items() if not np.isfinite(v).all()}
    assert not bad and len(got) > 30, bad


def test_fisher_taps_sum_over_every_call_of_a_shared_module():
    net = _net("shared_attention").eval()
    x, _ = _batch()
    named = fisher.sampled_parameters(net)
    fast, z_fast = fisher._hooked_jacobian(net, x, named)
    slow, z_slow = fisher._looped_jacobian(net, x, named)
    torch.testing.assert_close(z_fast, z_slow)
    torch.testing.assert_close(fast.float(), slow.float(), rtol=1e-4, atol=1e-6)


def test_a_sequential_listing_a_module_twice_runs_it_twice_as_blocks():
    torch.manual_seed(0)
    conv, relu = nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), relu, conv, relu, conv, relu,
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10))
    x, y = _batch()
    s = collect(net, x, y, ["block_out", "weight"], strict=True)
    assert len(s["block_out"]) == len(net) and len(s["weight"]) == 4 and s["weight"][1] is s["weight"][2]
    with torch.no_grad():
        torch.testing.assert_close(s["block_out"][-1], net(x))
    assert math.isfinite(_scores([PROXIES.get("aznas_expressivity").program], [net], x, y)[0, 0])
