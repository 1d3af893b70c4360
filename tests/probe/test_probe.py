"""The probe's contract: it leaves the caller's model alone, is deterministic, returns what was
asked, and handles awkward models (in-place ops after a layer, layers that run twice)."""
import pytest
import torch
from torch import nn

from evoproxy.probe.base import collect
from evoproxy.lang.stats import STATS
from tests.probehelp import MODELS, batch, copy_model, linear_bias, tiny_cnn


# ---- collect() contract -----------------------------------------------------------------------

ALL_STATS = sorted(n for n in STATS if STATS.get(n).pass_name != "kd")
"""Teacher statistics need a student beside a teacher: tests/test_kdprobe.py covers them."""


def _snapshot(model: nn.Module):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {k: None if p.grad is None else p.grad.clone() for k, p in model.named_parameters()},
            [m.training for m in model.modules()])


@pytest.mark.parametrize("model_name", sorted(MODELS))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_collect_does_not_touch_the_callers_model(model_name, mode):
    model = MODELS[model_name]().train(mode == "train")
    x, y = batch()
    # existing grads on some parameters, none on others
    for i, p in enumerate(model.parameters()):
        p.grad = torch.full_like(p, 0.25) if i % 2 == 0 else None
    state, grads, modes = _snapshot(model)
    x0, y0 = x.clone(), y.clone()
    rng = torch.get_rng_state()
    collect(model, x, y, ALL_STATS)
    state2, grads2, modes2 = _snapshot(model)
    assert state.keys() == state2.keys()
    for k in state:  # includes BN running_mean / running_var / num_batches_tracked
        assert torch.equal(state[k], state2[k]), k
    for k in grads:
        assert (grads[k] is None) == (grads2[k] is None), k
        if grads[k] is not None:
            assert torch.equal(grads[k], grads2[k]), k
    assert modes == modes2
    assert torch.equal(x, x0) and torch.equal(y, y0) and not x.requires_grad
    assert torch.equal(torch.get_rng_state(), rng), "collect() changed the global RNG state"


def _equal(a, b) -> bool:
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_equal(u, v) for u, v in zip(a, b))
    return a.dtype == b.dtype and torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)) and \
        torch.equal(torch.isnan(a), torch.isnan(b))


@pytest.mark.parametrize("model_name", sorted(MODELS))
def test_collect_is_deterministic(model_name):
    model = MODELS[model_name]()
    x, y = batch()
    a = collect(model, x, y, ALL_STATS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)  # the global RNG state must not matter
        b = collect(model, x, y, ALL_STATS)
    blocks = {"block_out", "block_jac"}   # only for networks that declare blocks (or are nn.Sequential)
    assert a.keys() == b.keys() and set(ALL_STATS) - blocks <= a.keys()
    assert (blocks <= a.keys()) == (isinstance(model, torch.nn.Sequential) or hasattr(model, "probe_blocks")
                                   or hasattr(model, "probe_block_outputs"))
    for k in a:
        assert _equal(a[k], b[k]), k


def test_collect_returns_only_what_was_asked():
    model = tiny_cnn()
    x, y = batch()
    for name in ALL_STATS:
        assert set(collect(model, x, y, [name])) == {name}
    for names in [("grad", "nwot"), ("weight", "virtual_grad"), ("act", "zen", "params")]:
        assert set(collect(model, x, y, names)) == set(names)
    assert collect(model, x, y, []) == {}


def test_stats_alone_and_together_agree():
    """A statistic does not depend on which other statistics share its pass."""
    model = tiny_cnn()
    x, y = batch()
    together = collect(model, x, y, ALL_STATS)
    for name in ALL_STATS:
        assert _equal(collect(model, x, y, [name])[name], together[name]), name


# ---- awkward models ---------------------------------------------------------------------------

def test_act_is_the_layer_output_even_before_an_inplace_relu():
    model = linear_bias()  # Linear(4, 8) is followed by ReLU(inplace=True)
    x, y = batch()
    s = collect(model, x, y, ["act"])
    net = copy_model(model)
    with torch.no_grad():
        pre = net[:6](x)  # output of Linear(4, 8) on the batch, train mode
    assert (pre < 0).any()
    assert s["act"][1].shape == pre.shape
    torch.testing.assert_close(s["act"][1], pre)


class _Shared(nn.Module):
    """One Linear called twice (weight sharing)."""

    def __init__(self) -> None:
        super().__init__()
        self.inp = nn.Linear(192, 6)
        self.shared = nn.Linear(6, 6)
        self.out = nn.Linear(6, 5)

    def forward(self, x):
        h = torch.tanh(self.inp(x.flatten(1)))
        return self.out(torch.tanh(self.shared(torch.tanh(self.shared(h)))))


def test_a_reused_layer_is_one_occurrence_per_call():
    """Each call of a reused layer has its own activation; its one weight stands at each call."""
    torch.manual_seed(4)
    x, y = batch()
    net = _Shared()
    s = collect(net, x, y, ["act", "act_grad", "weight"], strict=True)
    assert len(s["act"]) == len(s["act_grad"]) == len(s["weight"]) == 4
    assert s["weight"][1] is s["weight"][2]
    torch.testing.assert_close(s["weight"][1], net.shared.weight)
    first = net.shared(torch.tanh(net.inp(x.flatten(1))))
    torch.testing.assert_close(s["act"][1], first)
    torch.testing.assert_close(s["act"][2], net.shared(torch.tanh(first)))
