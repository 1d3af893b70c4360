"""load_proxy on a user's own networks: layers the probe measures (Conv1d, Embedding,
MultiheadAttention, LayerNorm beside them) give the right numbers; the rest is one line."""
import pytest
import torch
from torch import nn

from evoproxy import load_proxy
from evoproxy.errors import EvoproxyError
from evoproxy.probe.base import collect


def _seeded(build):
    torch.manual_seed(0)
    return build()


class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(3, 8, 5), nn.Conv1d(8, 4, 3, groups=2)
        self.fc = nn.Linear(4, 10)

    def forward(self, x):
        h = torch.relu(self.c2(torch.relu(self.c1(x))))
        return self.fc(h.mean(-1))


class TokenNet(nn.Module):
    """Embedding -> self-attention -> LayerNorm -> classifier, sequence first (batch_first=False)."""

    def __init__(self, batch_first=False):
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        self.attn = nn.MultiheadAttention(16, 4, batch_first=batch_first)
        self.norm, self.head = nn.LayerNorm(16), nn.Linear(16, 10)
        self.batch_first = batch_first

    def forward(self, tokens):
        h = self.emb(tokens if self.batch_first else tokens.T)
        a, _ = self.attn(h, h, h)
        h = self.norm(h + a)
        return self.head(h.mean(1 if self.batch_first else 0))


def _images_1d():
    return torch.randn(6, 3, 20), torch.arange(6) % 10


def _tokens():
    return torch.randint(0, 50, (6, 7)), torch.arange(6) % 10


def test_conv1d_layers_are_measured_in_order():
    net = _seeded(Conv1dNet)
    x, y = _images_1d()
    stats = collect(net, x, y, ["weight", "flops", "grad"], strict=True)
    assert [w.shape for w in stats["weight"]] == [m.weight.shape for m in (net.c1, net.c2, net.fc)]
    assert all(float(g.abs().sum()) > 0 for g in stats["grad"])
    macs = 8 * 16 * 3 * 5 + 4 * 14 * 4 * 3 + 10 * 4  # out values x (C_in/groups x kernel)
    assert float(stats["flops"]) == pytest.approx(macs / 1e6)
    expected = sum(float(m.weight.detach().norm()) for m in (net.c1, net.c2, net.fc))
    assert load_proxy("layer_sum(l2(weight))")(net, (x, y)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("batch_first", [False, True])
def test_attention_is_two_layers_with_their_weights_and_activations(batch_first):
    net = _seeded(lambda: TokenNet(batch_first))
    x, y = _tokens()
    stats = collect(net, x, y, ["weight", "grad", "act", "macs"], strict=True)
    expected = [net.emb.weight, net.attn.in_proj_weight, net.attn.out_proj.weight, net.head.weight]
    assert len(stats["weight"]) == 4
    for got, want in zip(stats["weight"], expected):
        assert torch.equal(got, want.detach())
    assert float(stats["grad"][1].abs().sum()) > 0 and float(stats["grad"][2].abs().sum()) > 0
    h = net.emb(x)  # batch first
    qkv = nn.functional.linear(h, net.attn.in_proj_weight, net.attn.in_proj_bias)
    assert torch.allclose(stats["act"][1], qkv, atol=1e-5)
    assert stats["act"][2].shape == (6, 7, 16)
    assert stats["macs"].tolist() == [0.0, 7 * 48 * 16, 7 * 16 * 16, 10 * 16]


def test_synflow_runs_on_token_networks():
    net = _seeded(TokenNet)
    value = load_proxy("synflow")(net, _tokens())
    assert torch.isfinite(torch.tensor(value))


@pytest.mark.parametrize("build, words", [
    (lambda: nn.Sequential(nn.LayerNorm(8), nn.LayerNorm(8)), "no layer the probe measures"),
    (lambda: nn.LSTM(8, 8), "LSTM"),
    (lambda: nn.GRU(8, 8), "GRU"),
    (lambda: nn.MultiheadAttention(8, 2, kdim=4, vdim=4), "separate q/k/v"),
])
def test_networks_the_probe_cannot_measure_are_one_line(build, words):
    with pytest.raises(EvoproxyError, match=words):
        load_proxy("layer_sum(l2(grad))")(build(), (torch.randn(2, 8), torch.zeros(2, dtype=torch.long)))


class DictNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return {"logits": self.fc(x)}


class SharedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.head = nn.Linear(8, 8), nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.fc(torch.relu(self.fc(x))))


def test_a_dict_output_is_one_line_not_a_traceback():
    batch = (torch.randn(4, 8), torch.arange(4))
    with pytest.raises(EvoproxyError, match="returns a dict.*logits"):
        load_proxy("layer_sum(l2(grad))")(DictNet(), batch)


def test_a_shared_layer_is_one_occurrence_per_call():
    net, batch = _seeded(SharedNet), (torch.randn(4, 8), torch.arange(4))
    assert load_proxy("layer_sum(l2(grad))")(net, batch) > 0
    with torch.no_grad():
        first = net.fc(batch[0])
        want = sum(float(a.norm()) for a in (first, net.fc(torch.relu(first)), net(batch[0])))
    assert load_proxy("layer_sum(l2(act))")(net, batch) == pytest.approx(want)  # each call's own output
    flops = collect(net, *batch, ["flops"])["flops"]
    assert float(flops) == pytest.approx((2 * 64 + 80) / 1e6)  # both calls of fc count


def test_functional_relu_counts_for_naswot():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.head = nn.Linear(8, 16), nn.Linear(16, 10)

        def forward(self, x):
            return self.head(torch.relu(self.fc(x)))

    functional = _seeded(Functional)
    modules = nn.Sequential(functional.fc, nn.ReLU(), functional.head)
    batch = (torch.randn(6, 8), torch.arange(6))
    assert load_proxy("nwot")(functional, batch) == load_proxy("nwot")(modules, batch)
