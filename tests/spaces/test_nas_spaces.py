"""NAS-Bench-101 and DARTS / NAS-Bench-301 builders (evoproxy.spaces.nb101, evoproxy.spaces.darts).

Parameter-count rule: NAS-Bench-Suite-Zero's ``params`` column is tensorwatch's
count (in millions) of the parameters of every leaf module that runs in one
forward pass, on the network NASLib built. Every module our builders create
runs, so the rule is ``sum(p.numel() for p in model.parameters()) / 1e6``;
NASLib's columns keep all six decimals, so the match is to the parameter. For
NB301 that holds with NASLib's 2022 widths (C=32, 8 cells, no auxiliary head,
non-affine BatchNorm inside cell ops), not with its later 16-channel default.
"""

from __future__ import annotations

import csv
import random

import pytest
import torch

from evoproxy.data.paths import resolve_data_dir
from evoproxy.probe.base import collect
from evoproxy.probe.passes.block import block_outputs
from evoproxy.spaces.darts import OPS as DARTS_OPS
from evoproxy.spaces.darts import Genotype, build_darts, parse_nb301_arch
from evoproxy.spaces.nb101 import build_nb101, parse_nb101_arch, prune, vertex_channels
from tests.datahelp import have_data

NB101_CSV = "naslib-suite-zero/nb101_zc_proxies_500_cifar10.csv"
NB301_CSV = "naslib-suite-zero/nb301_zc_proxies_725_cifar10.csv"
needs_nb101 = pytest.mark.skipif(not have_data(NB101_CSV), reason="Suite-Zero NB101 table not in the data directory")
needs_nb301 = pytest.mark.skipif(not have_data(NB301_CSV), reason="Suite-Zero NB301 table not in the data directory")

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
# A 5-vertex cell: 1 and 2 feed the output (truncation case: 1 -> 2 with 1 one channel wider), 3 is dangling.
DANGLING = [[0, 1, 1, 1, 0], [0, 0, 1, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
COMPACT = "[[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], " \
          "[(1, 0), (0, 2), (1, 3), (0, 3), (3, 0), (0, 1), (2, 0), (3, 6)]]"


def _rows(relpath: str, k: int | None = 8) -> list[dict[str, str]]:
    """``k`` rows of a Suite-Zero table chosen with a fixed seed (all rows when ``k`` is None)."""
    with (resolve_data_dir() / relpath).open(newline="") as f:
        rows = list(csv.DictReader(f))
    return rows if k is None else random.Random(17).sample(rows, k)


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _assert_params(n: int, row: dict[str, str]) -> None:
    assert n == round(float(row["params"]) * 1e6), (row["arch"], n, row["params"])


def _forward_backward(model: torch.nn.Module) -> torch.Tensor:
    model.train()
    out = model(torch.randn(2, 3, 32, 32))
    out.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    return out


def test_parse_nb101_maps_naslib_op_codes():
    matrix, ops = parse_nb101_arch("(0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 1)")
    assert matrix == [[0, 1, 0], [0, 0, 1], [0, 0, 0]] and ops == ["input", MP, "output"]
    _, ops = parse_nb101_arch("(" + ", ".join(["0"] * 49) + ", 0, 4, 3, 2, 4, 3, 1)")
    assert ops == ["input", C3, C1, MP, C3, C1, "output"]
    for bad in ("(0, 1, 2)", "(0, 1, 0, 0, 0, 9)", "(a, b)"):
        with pytest.raises(ValueError):
            parse_nb101_arch(bad)


def test_prune_drops_dangling_vertices_and_rejects_disconnected_cells():
    ops = ["input", C3, C1, MP, "output"]
    matrix, kept = prune(DANGLING, ops)
    assert kept == ["input", C3, C1, "output"] and matrix == [[0, 1, 1, 0], [0, 0, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    with pytest.raises(ValueError, match="does not reach"):
        prune([[0, 1, 0], [0, 0, 0], [0, 0, 0]], ["input", C3, "output"])
    with pytest.raises(ValueError):
        prune([[0, 1], [1, 0]], ["input", "output"])
    with pytest.raises(ValueError):
        prune([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"])


def test_vertex_channels_split_the_output_like_nasbench():
    matrix, _ = prune(DANGLING, ["input", C3, C1, MP, "output"])
    assert vertex_channels(64, 129, matrix) == [64, 65, 64, 129]
    three = [[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]
    assert vertex_channels(128, 128, three) == [128, 43, 43, 42, 128]


def test_small_nb101_networks_run_forward_and_backward(one_thread):
    specs = [(DANGLING, ["input", C3, C1, MP, "output"]),
             ([[0, 1], [0, 0]], ["input", "output"]),
             ([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", MP, "output"])]
    for matrix, ops in specs:
        net = build_nb101(matrix, ops, num_classes=7, stem_channels=9, stacks=2, cells_per_stack=2)
        assert _forward_backward(net).shape == (2, 7)
    with pytest.raises(ValueError):
        build_nb101(*specs[0], stacks=0)


def test_parse_nb301_uses_naslib_compact_op_order():
    g = parse_nb301_arch(COMPACT)
    assert g.normal[:2] == (("max_pool_3x3", 0), ("dil_conv_3x3", 1))
    assert g.reduce[-1] == ("dil_conv_5x5", 3) and g.normal_concat == g.reduce_concat == (2, 3, 4, 5)
    assert DARTS_OPS.index("skip_connect") == 2
    ok = [(0, 0)] * 8
    for bad in ([[(0, 9)] * 8, ok], [[(0, -1)] * 8, ok], [[(5, 0)] * 8, ok], [[(0, 0)] * 3, ok], [ok], "not python"):
        with pytest.raises(ValueError):
            parse_nb301_arch(str(bad))


def test_small_darts_network_runs_with_and_without_auxiliary_head(one_thread):
    g = parse_nb301_arch(COMPACT)
    net = build_darts(g, C=8, layers=3, num_classes=5, auxiliary=True)
    net.train()
    logits, aux = net(torch.randn(2, 3, 32, 32))
    assert logits.shape == aux.shape == (2, 5)
    net.eval()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 5)
    same = build_darts(tuple(g), C=8, layers=3, num_classes=5)
    assert _forward_backward(same).shape == (2, 5)
    assert _n_params(net) - _n_params(same) == _n_params(net.auxiliary_head)
    with pytest.raises(ValueError):
        build_darts(Genotype(g.normal, (2, 9), g.reduce, g.reduce_concat))


def test_block_statistics_follow_the_real_forward(one_thread):
    """The last block's output is what the classifier reads (NB101 pools between stacks, DARTS cells
    read the two outputs before them), and the AZ-NAS blocks pass gives one Jacobian per later block."""
    x = torch.randn(2, 3, 32, 32)
    nb101 = build_nb101(DANGLING, ["input", C3, C1, MP, "output"], num_classes=7, stem_channels=9, stacks=2,
                        cells_per_stack=2).eval()
    darts = build_darts(parse_nb301_arch(COMPACT), C=8, layers=3, num_classes=5).eval()
    with torch.no_grad():
        outs = block_outputs(nb101, x)
        assert len(outs) == 5 and torch.allclose(nb101.classifier(outs[-1].mean(dim=(2, 3))), nb101(x))
        outs = block_outputs(darts, x)
        last = darts.classifier(darts.global_pooling(outs[-1]).flatten(1))
        assert len(outs) == 4 and torch.allclose(last, darts(x))
    for net, blocks in ((nb101, 5), (darts, 4)):
        got = collect(net, x, torch.tensor([0, 1]), ["block_out", "block_jac"])
        assert len(got["block_out"]) == blocks and len(got["block_jac"]) == blocks - 1
        assert all(torch.isfinite(j).all() for j in got["block_jac"])


def test_zen_reads_the_feature_map_nb101_pools_with_mean(one_thread):
    """NB101 averages its last feature map with ``mean`` (no pooling module): Zen-score was NaN there."""
    net = build_nb101(DANGLING, ["input", C3, C1, MP, "output"], num_classes=7, stem_channels=9, stacks=2,
                      cells_per_stack=2)
    zen = collect(net, torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3]), ["zen"])["zen"]
    assert torch.isfinite(torch.as_tensor(zen)).all()


@pytest.mark.data
@needs_nb101
def test_nb101_sample_matches_suite_zero(one_thread):
    for row in _rows(NB101_CSV):
        net = build_nb101(*parse_nb101_arch(row["arch"]))
        _assert_params(_n_params(net), row)
        weight_norms = sum(float(m.weight.detach().norm()) for m in net.modules()
                           if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
        assert weight_norms == pytest.approx(float(row["l2_norm"]), rel=0.01)  # NASLib's init (torch's: ~0.4x)
        assert _forward_backward(net).shape == (2, 10)


def test_nb101_weights_start_as_naslibs_model_starts_them():
    torch.manual_seed(0)
    net = build_nb101(DANGLING, ["input", C3, C1, MP, "output"], num_classes=7, stem_channels=16, stacks=2,
                      cells_per_stack=1)
    conv = net.stem[0]
    assert conv.weight.std().item() == pytest.approx((2 / (9 * 16)) ** 0.5, rel=0.1)  # He-normal over fan-out
    assert net.classifier.weight.std().item() == pytest.approx(0.01, rel=0.2) and not net.classifier.bias.any()


@pytest.mark.data
@needs_nb301
def test_nb301_sample_matches_suite_zero(one_thread):
    for row in _rows(NB301_CSV):
        net = build_darts(parse_nb301_arch(row["arch"]))
        _assert_params(_n_params(net), row)
        assert _forward_backward(net).shape == (2, 10)


@pytest.mark.slow
@pytest.mark.data
@pytest.mark.parametrize("relpath", [pytest.param(NB101_CSV, marks=needs_nb101),
                                     pytest.param(NB301_CSV, marks=needs_nb301)])
def test_every_suite_zero_row_has_the_tables_parameter_count(relpath, one_thread):
    build = (lambda a: build_nb101(*parse_nb101_arch(a))) if relpath == NB101_CSV else build_darts
    for row in _rows(relpath, k=None):
        with torch.device("meta"):  # no storage, no init: counting only
            net = build(row["arch"])
        _assert_params(_n_params(net), row)


@pytest.mark.data
@pytest.mark.parametrize("name, relpath", [pytest.param("nb101-cifar10", NB101_CSV, marks=needs_nb101),
                                           pytest.param("nb301-cifar10", NB301_CSV, marks=needs_nb301)])
def test_suite_zero_space_benchmarks(name, relpath):
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.errors import EvoproxyError
    bench = get_benchmark(name)
    ids = bench.arch_ids()
    assert ids == list(range(len(ids))) and len(ids) in (500, 725)
    assert sorted(bench.arch_ids("search") + bench.arch_ids("holdout")) == ids
    first = bench.reference(0)
    assert bench.accuracy(0) > 80 and {"params", "synflow", "snip"} <= set(first)
    assert sum(p.numel() for p in bench.build(0).parameters()) == round(first["params"] * 1e6)
    with pytest.raises(EvoproxyError, match="one metric"):
        get_benchmark(name, metric="test_12ep")
