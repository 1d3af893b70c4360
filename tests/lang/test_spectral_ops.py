"""The spectral, pattern and sample-axis ops and their type rules (ZiCo, MeCo, NASWOT, SWAP, Jacov)."""
import math

import pytest
import torch

from evoproxy.errors import EvoproxyError
from evoproxy.lang.interpret import evaluate
from evoproxy.lang.ops import OPS
from evoproxy.lang.program import parse
from evoproxy.lang.proxyfile import resolve
from evoproxy.lang.types import LAYER_T, VType


def _op(name, *args):
    return OPS.get(name).fn(*args)


def test_spectral_reductions_on_a_known_kernel():
    k = torch.diag(torch.tensor([3.0, 2.0, 1.0]))
    assert float(_op("eig_min", k)) == pytest.approx(1.0)
    assert float(_op("eig_max", k)) == pytest.approx(3.0)
    assert float(_op("logdet", k)) == pytest.approx(math.log(6.0))
    assert float(_op("cond", k)) == pytest.approx(3.0)
    p = torch.tensor([3.0, 2.0, 1.0]) / 6
    assert float(_op("eff_rank", k)) == pytest.approx(math.exp(-float((p * p.log()).sum())))
    assert _op("eigvals", k).tolist() == pytest.approx([3.0, 2.0, 1.0])


def test_spectra_of_a_random_psd_kernel_are_its_eigenvalues():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 20, generator=g, dtype=torch.float64)
    k = x @ x.T
    eig = torch.linalg.eigvalsh(k)
    assert float(_op("eig_min", k)) == pytest.approx(float(eig[0]))
    assert float(_op("logdet", k)) == pytest.approx(float(torch.linalg.slogdet(k)[1]))


def test_singular_and_empty_cases_are_defined():
    z = torch.zeros(3, 3)
    for name in ("eig_min", "eig_max", "logdet", "cond", "eff_rank"):
        assert float(_op(name, z)) == 0.0, name


def test_corr_channels_step_and_distinct_rows():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 2, 3, 3, generator=g)
    want = torch.corrcoef(x.reshape(5, -1).double())
    assert torch.allclose(_op("corr", x), want, atol=1e-12)
    const = torch.ones(2, 4)
    assert _op("corr", const).tolist() == [[0.0, 0.0], [0.0, 0.0]]   # constant rows: 0, as nan_to_num(corrcoef)
    assert _op("channels", x).shape == (2, 5, 3, 3)
    assert torch.equal(_op("channels", x)[1, 3], x[3, 1])
    assert _op("step", torch.tensor([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 1.0]
    patterns = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert float(_op("distinct_rows", patterns)) == 2.0


def test_sample_ops_reduce_the_leading_axis():
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    assert _op("sample_mean", x).tolist() == [2.0, 4.0]
    assert _op("sample_std", x).tolist() == [1.0, 2.0]   # population std


@pytest.mark.parametrize("text,says", [
    ("layer_sum(sum(sample_mean(grad)))", "per-sample statistic"),
    ("layer_sum(logdet(layers_total(matmul(weight, weight))))", "batch kernels"),
    ("layer_sum(add(l2(relu_in), l2(weight)))", "cannot pair"),
    ("layer_sum(sum(mul(relu_in, l2(weight))))", "cannot pair"),
])
def test_type_rules_refuse_what_would_not_compute(text, says):
    with pytest.raises(EvoproxyError, match=says):
        resolve(text)


def test_types_of_the_new_statistics_meet_where_they_should():
    assert parse("sample_mean(grad_split)").vtype == parse("weight").vtype
    assert parse("mul(weight, sample_std(grad_split))").vtype == parse("weight").vtype
    assert parse("l2(relu_in)").vtype == VType("layer", "relu")
    assert parse("l2(weight)").vtype == LAYER_T
    assert str(parse("layers_total(corr(act))").vtype) == "tensor[corr(A)]"


def test_layer_values_of_relus_aggregate_to_one_number():
    stats = {"relu_in": (torch.ones(2, 3), -torch.ones(2, 5))}
    assert evaluate(parse("layer_sum(sum(step(relu_in)))"), stats) == 6.0


@pytest.mark.parametrize("arch", ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",
                                  "|skip_connect~0|+|none~0|nor_conv_3x3~1|+|nor_conv_1x1~0|skip_connect~1|nor_conv_3x3~2|"])
def test_naswot_and_jacov_formulas_equal_their_opaque_leaves(arch):
    from evoproxy.lang.proxies import PROXIES
    from evoproxy.probe.base import collect
    from evoproxy.spaces.nb201 import build_nb201
    torch.manual_seed(0)
    net = build_nb201(arch)
    x, y = torch.randn(16, 3, 32, 32), torch.arange(16) % 10
    for name in ("nwot", "jacov"):
        program = PROXIES.get(name).program
        stats = collect(net, x, y, program.stats | {name}, strict=True)
        assert name not in program.stats   # the formula does not read the leaf
        assert evaluate(program, stats) == pytest.approx(float(stats[name]), rel=1e-9)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_spectrum_of_a_non_finite_matrix_is_nan_without_lapack_noise(bad, capfd):
    x = torch.randn(4, 6)
    x[1, 2] = bad
    for name in ("eig_min", "eig_max", "eigvals", "cond"):
        assert torch.isnan(OPS.get(name).fn(x)).all(), name
    assert "DLASCL" not in capfd.readouterr().err


def test_an_svd_that_does_not_converge_gives_a_nan_spectrum(monkeypatch):
    def fails(m):
        raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge")
    monkeypatch.setattr(torch.linalg, "svdvals", fails)
    x = torch.randn(4, 6)
    for name in ("eig_min", "eig_max", "eigvals", "cond"):
        assert torch.isnan(OPS.get(name).fn(x)).all(), name
