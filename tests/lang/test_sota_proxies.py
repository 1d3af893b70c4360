"""ZiCo, SWAP, NASWOT and MeCo as programs, each against an independent implementation written
from the paper and the authors' code (tests/sota_direct_a.py, tests/sota_direct_c.py), per network, on NB201 networks."""
import random

import pytest
import torch

from evoproxy.lang.interpret import eval_node
from evoproxy.lang.types import SCALAR_T
from evoproxy.evolve.generate import Generator
from evoproxy.spaces.nb201 import build_nb201
from tests import sota_direct_a as ref
from tests import sota_direct_c as ref_c
from tests.directhelp import assert_close, library_score

SOTA_DIRECT = ("zico", "swap", "meco")
"""The proxies this file checks against an independent implementation (nwot has its own too)."""
ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
         "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|skip_connect~2|"]


@pytest.fixture(scope="module", params=ARCHS)
def case(request):
    torch.manual_seed(0)
    net = build_nb201(request.param)
    g = torch.Generator().manual_seed(1)
    return net, torch.randn(16, 3, 32, 32, generator=g), torch.arange(16) % 10


def test_zico(case):
    net, x, y = case
    assert_close(library_score("zico", net, x, y), ref.zico(net, x, y), rel=1e-6, nonzero=True)


def test_swap(case):
    net, x, _ = case
    assert library_score("swap", net, x, None) == ref_c.swap(net, x) > 0


def test_naswot_counts_every_relu_once_as_naslib(case):
    net, x, y = case
    assert_close(library_score("nwot", net, x, y), ref_c.naswot(net, x, hooks="relu"), rel=1e-9, nonzero=True)


def _meco_on_measured_layers(net, x):
    """MeCo restricted to the probe's stated departure: Conv/Linear outputs (of the first image alone)."""
    values = []

    def hook(_m, _i, out):
        f = out[0].detach().double().reshape(out.shape[1], -1)
        if f.shape[1] > 1:
            values.append(float(torch.linalg.eigvalsh(torch.nan_to_num(torch.corrcoef(f))).min()))
        else:   # one position (the classifier): constant rows, nan_to_num(corrcoef) = 0
            values.append(0.0)
    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        net.train()(x[:1])
    for h in handles:
        h.remove()
    return sum(values)


def test_meco(case):
    net, x, y = case
    assert_close(library_score("meco", net, x, y), _meco_on_measured_layers(net, x), rel=1e-6)


OPS = ["step", "neurons", "first_sample", "channels", "layers_concat", "distinct_rows", "layers_total", "logdet",
       "eigvals", "eig_min", "eig_max", "eff_rank", "cond", "corr", "matmul", "sample_mean", "sample_std",
       "layer_sum", "layer_mean", "add", "mul", "div", "log", "abs", "sum", "l2", "spatial_sum", "cov", "layer_diff",
       "layer_min", "layer_max"]


def test_random_programs_over_the_new_statistics_compute(case):
    from evoproxy.probe.base import collect
    net, x, y = case
    stats = collect(net, x[:4], y[:4], ["relu_in", "grad_split", "grad_each", "input_grad", "weight", "act", "fan_in",
                                        "block_out", "block_jac", "ntk", "same_class"])
    gen, rng = Generator(stats=sorted(stats), ops=OPS), random.Random(7)
    drawn = set()
    for _ in range(80):
        program = gen.program(rng, SCALAR_T, rng.randint(2, 7))
        value = eval_node(program, stats, {})   # well-typed: computes, never raises
        assert value.shape == () and value.dtype.is_floating_point, program.text
        drawn |= {n.head for n in program.nodes()}
    assert {"layer_diff", "block_out", "grad_each"} <= drawn
