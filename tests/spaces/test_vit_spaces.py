"""ViT student spaces (AutoFormer-Tiny, PiT, cifar-vit): shapes, counts, specs, sampling."""
import csv
import json

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from evoproxy.data.paths import data_file
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.vit import (AUTOFORMER_TINY, CIFAR_VIT, PIT_SPACE, AutoFormerSub, PiTSub, arch_from_json,
                                 build_vit, canonical, count_params, sample_arch, vit_flops, vit_mac_parts)
from tests.datahelp import have_data

AF = {"hidden_dim": 192, "depth": 12, "mlp_ratio": [4.0, 3.5] * 6, "num_heads": [3, 3, 3, 4] * 3}
PIT = {"base_dim": 16, "mlp_ratio": 2, "depth": [1, 2, 1], "num_heads": [2, 4, 8]}
SMALL = {"hidden_dim": 64, "depth": 4, "mlp_ratio": [2.0, 3.0, 4.0, 2.0], "num_heads": [2, 4, 2, 4]}
CASES = [("autoformer", AF), ("pit", PIT), ("cifar-vit", SMALL)]


@pytest.fixture(autouse=True)
def _seed_one_thread():
    """Seeded, single-threaded (much faster than two threads on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _run(space, arch, keep=False):
    net = build_vit(space, arch)
    net.keep_attn = keep
    return net, net.forward_features(torch.randn(2, 3, 32, 32))


def test_autoformer_shapes():
    net, (feats, logits) = _run("autoformer", AF, keep=True)
    assert [tuple(f.shape) for f in feats] == [(2, 192, 8, 8)] * 3
    assert logits.shape == (2, 10) and net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert [tuple(a.shape) for a in net.attention_maps()] == [(2, 4, 65, 65), (2, 4, 65, 65), (2, 4, 65, 65)]
    assert isinstance(net.head, nn.Linear) and net.feature_blocks == (3, 7, 11)


@pytest.mark.parametrize("depth,blocks", [(3, (0, 1, 2)), (4, (0, 2, 3)), (5, (1, 2, 4)), (6, (1, 3, 5)),
                                          (13, (3, 8, 12)), (14, (4, 8, 13))])
def test_autoformer_feature_blocks(depth, blocks):
    arch = {"hidden_dim": 16, "depth": depth, "mlp_ratio": [1.0] * depth, "num_heads": [2] * depth}
    assert AutoFormerSub(arch).feature_blocks == blocks


def test_pit_shapes():
    net, (feats, logits) = _run("pit", PIT, keep=True)
    assert [tuple(f.shape) for f in feats] == [(2, 32, 16, 16), (2, 64, 8, 8), (2, 128, 4, 4)]
    assert logits.shape == (2, 10) and isinstance(net.head, nn.Linear)
    assert [tuple(a.shape) for a in net.attention_maps()] == [(2, 2, 257, 257), (2, 4, 65, 65), (2, 8, 17, 17)]
    assert net.feature_blocks == (0, 2, 3)


@pytest.mark.parametrize("space,arch", CASES)
def test_attention_rows_sum_to_one(space, arch):
    net, _ = _run(space, arch, keep=True)
    for a in net.attention_maps():
        torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[:-1]))


@pytest.mark.parametrize("space,arch", CASES)
def test_keep_attn_off_stores_nothing(space, arch):
    net, _ = _run(space, arch)
    assert not net.keep_attn
    assert all(b.attn.last_attn is None for b in net.all_blocks())
    with pytest.raises(EvoproxyError):
        net.attention_maps()
    net.keep_attn = True
    net(torch.randn(1, 3, 32, 32))
    net.keep_attn = False
    assert all(b.attn.last_attn is None for b in net.all_blocks())


def test_head_grad_after_backward():
    net, (_, logits) = _run("pit", PIT)
    nn.functional.cross_entropy(logits, torch.tensor([0, 1])).backward()
    assert net.head.weight.grad.shape == (10, 128)


def test_autoformer_tiny_param_formula():
    d, blocks, tokens, classes = 192, 12, 8 * 8 + 1, 10
    per_block = (2 * d                        # LayerNorm 1
                 + 3 * d * d + 3 * d          # qkv
                 + d * d + d                  # proj
                 + 2 * d                      # LayerNorm 2
                 + d * 4 * d + 4 * d          # fc1
                 + 4 * d * d + d)             # fc2
    embed = 3 * 4 * 4 * d + d                 # patch conv
    expected = (embed + d + tokens * d        # + cls token + pos embed
                + blocks * per_block + 2 * d  # + final LayerNorm
                + d * classes + classes)      # + head
    assert expected == 5_362_762
    arch = {"hidden_dim": d, "depth": blocks, "mlp_ratio": [4.0] * blocks, "num_heads": [3] * blocks}
    assert count_params(build_vit("autoformer", arch)) == expected


def test_pit_param_formula():
    b, r = 16, 2
    c = [b * 2, b * 4, b * 8]
    block = lambda w: 4 * w + 4 * w * w + 4 * w + 2 * w * (r * w) + r * w + w
    expected = (3 * 16 * c[0] + c[0] + c[0] * 16 * 16 + c[0]   # embed conv, pos embed, cls token
                + block(c[0]) + 2 * block(c[1]) + block(c[2])
                + c[1] * 9 + c[1] + c[0] * c[1] + c[1]         # pool 1 (depthwise conv, fc)
                + c[2] * 9 + c[2] + c[1] * c[2] + c[2]         # pool 2
                + 2 * c[2] + c[2] * 10 + 10)                   # final LN, head
    assert count_params(build_vit("pit", PIT)) == expected


def _hook_macs(net):
    total = []

    def hook(m, _inp, out):
        per_out = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.in_features
        total.append(out[0].numel() * per_out)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    for h in handles:
        h.remove()
    return sum(total)


@pytest.mark.parametrize("space,arch", CASES)
def test_flops_match_hooks_and_matmul_count(space, arch):
    net, parts = build_vit(space, arch), vit_mac_parts(arch, space)
    assert _hook_macs(net) == parts["linear"]
    assert parts["attn"] > 0 and vit_flops(arch, space) == parts["linear"] + parts["attn"]
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(torch.zeros(1, 3, 32, 32))
    assert counter.get_total_flops() == 2 * vit_flops(arch, space)   # counts QK^T and AV too


def test_attention_term_by_hand():
    assert vit_mac_parts(AF, "autoformer")["attn"] == 12 * 2 * 65 * 65 * 192
    c = [32, 64, 128]
    assert vit_mac_parts(PIT, "pit")["attn"] == 2 * (257 ** 2 * c[0] + 2 * 65 ** 2 * c[1] + 17 ** 2 * c[2])
    assert vit_flops(AF, "autoformer", num_classes=100) - vit_flops(AF, "autoformer") == 90 * 192


@pytest.mark.parametrize("space", ["autoformer", "pit", "cifar-vit"])
def test_sampling_deterministic_and_in_space(space):
    draws = [sample_arch(space, np.random.default_rng(7)) for _ in range(2)]
    assert draws[0] == draws[1]
    rng = np.random.default_rng(3)
    archs = [sample_arch(space, rng) for _ in range(40)]
    assert len({canonical(a) for a in archs}) > 30
    for a in archs:
        assert arch_from_json(canonical(a), space) == a
    if space == "pit":
        assert all(tuple(a["depth"]) in PIT_SPACE["depth"] for a in archs)
        assert all(tuple(a["num_heads"]) in PIT_SPACE["num_heads"] for a in archs)
    else:
        choices = AUTOFORMER_TINY if space == "autoformer" else CIFAR_VIT
        assert all(set(a["num_heads"]) <= set(choices["num_heads"]) for a in archs)
        assert {a["depth"] for a in archs} == set(choices["depth"])


def test_canonical_sorted_compact():
    assert canonical(PIT) == '{"base_dim":16,"depth":[1,2,1],"mlp_ratio":2,"num_heads":[2,4,8]}'
    assert canonical(json.loads(canonical(AF))) == canonical(AF)


BAD = [
    ("autoformer", {**AF, "mlp_ratio": [4.0, 4.0]}),          # length != depth
    ("autoformer", {**AF, "num_heads": [3, 3, 5]}),           # not a choice
    ("autoformer", {**AF, "hidden_dim": 200}),                # not a choice
    ("autoformer", {**AF, "depth": 2, "mlp_ratio": [4.0] * 2, "num_heads": [3] * 2}),
    ("autoformer", {k: v for k, v in AF.items() if k != "depth"}),
    ("autoformer", {**AF, "extra": 1}),
    ("autoformer", {**AF, "depth": "3"}),
    ("cifar-vit", {**SMALL, "hidden_dim": 192}),
    ("pit", {**PIT, "depth": [1, 2]}),
    ("pit", {**PIT, "num_heads": [4, 2, 8]}),                 # 2 is not a multiple of 4
    ("pit", {**PIT, "mlp_ratio": 3}),
    ("pit", {**PIT, "base_dim": True}),
    ("pit", "{not json"),
    ("pit", "[1, 2]"),
    ("vit-huge", AF),
]


@pytest.mark.parametrize("space,arch", BAD)
def test_bad_arch_raises(space, arch):
    with pytest.raises(EvoproxyError) as err:
        build_vit(space, arch)
    assert "\n" not in str(err.value)


def test_bad_model_inputs():
    with pytest.raises(EvoproxyError):
        AutoFormerSub({**AF, "hidden_dim": 200})              # 200 % 3 != 0
    with pytest.raises(EvoproxyError):
        PiTSub({**PIT, "num_heads": [2, 4, 6]})               # grouped pooling conv needs 4 | 6
    with pytest.raises(EvoproxyError):
        build_vit("pit", PIT, num_classes=0)
    with pytest.raises(EvoproxyError):
        build_vit("cifar-vit", SMALL)(torch.zeros(1, 3, 28, 28))


def _published(fname):
    with open(data_file(f"vit/{fname}"), newline="") as f:
        return [row["arch_json"] for row in csv.DictReader(f)]


@pytest.mark.skipif(not have_data("vit/gt_autoformer.csv") or not have_data("vit/gt_pit.csv"),
                    reason="published ViT tables not in the data directory")
def test_published_archs_parse_and_build():
    tables = {"autoformer": _published("gt_autoformer.csv"), "pit": _published("gt_pit.csv")}
    ranges = {"autoformer": (4.5e6, 10e6), "pit": (0.1e6, 30e6)}  # measured 4.92-9.52M, 0.115-29.1M
    for space, rows in tables.items():
        archs = [arch_from_json(text, space) for text in rows]
        assert len(archs) == 100 and len({canonical(a) for a in archs}) == 100
        for a in (min(archs, key=lambda a: vit_flops(a, space)), max(archs, key=lambda a: vit_flops(a, space))):
            lo, hi = ranges[space]
            assert lo < count_params(build_vit(space, a)) < hi
