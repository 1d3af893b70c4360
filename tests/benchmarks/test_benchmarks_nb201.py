"""NB201 benchmarks: registry, splits, table values, the embedded table, Suite-Zero."""
import pytest

from evoproxy.benchmarks.base import Benchmark
from evoproxy.benchmarks import BENCHMARKS, get_benchmark
from evoproxy.benchmarks.nb201 import table as nb
from evoproxy.benchmarks.base import split_ids
from evoproxy.benchmarks.suite_zero import load_suite_zero, reference_spearman
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.nb201 import arch_str


from tests.datahelp import have_data as _have


needs_table = pytest.mark.skipif(not _have(nb.TABLE), reason="NB201 table not in the data directory")
needs_zero = pytest.mark.skipif(not _have("nb201/nb201_zc_proxies_725x3_naslib.csv"),
                                reason="Suite-Zero file not in the data directory")


def test_unknown_name_lists_valid_names():
    with pytest.raises(EvoproxyError) as err:
        get_benchmark("nb201-mnist")
    assert all(name in str(err.value) for name in BENCHMARKS)


def test_split_is_deterministic_and_disjoint():
    a, b = split_ids(15625, 0), split_ids(15625, 0)
    assert a == b and a != split_ids(15625, 1)
    search, hold = set(a["search"]), set(a["holdout"])
    assert not search & hold and search | hold == set(range(15625))
    assert abs(len(search) - len(hold)) <= 1


def test_the_embedded_table_serves_when_the_data_directory_has_none(tmp_path):
    bench = get_benchmark("nb201-cifar10", data_dir=tmp_path)
    assert "EMBEDDED" in bench.label and len(bench) == 15625
    assert bench.accuracy(1) == pytest.approx(93.66)
    assert round(max(bench.accuracy(i) for i in bench.arch_ids()), 2) == 94.37
    for name, best in (("nb201-cifar100", 73.51), ("nb201-imagenet16", 47.31)):
        other = get_benchmark(name, data_dir=tmp_path)
        assert round(max(other.accuracy(i) for i in other.arch_ids()), 2) == best   # the published optima
    for i in (0, 1, 777, 15624):
        assert bench.index_of(bench.arch_of(i)) == i == bench.index_of(bench.op_indices_of(i))
    assert get_benchmark("nb201-imagenet16", data_dir=tmp_path, metric="valid_12ep").num_classes == 120


@pytest.mark.data
@needs_table
def test_the_embedded_table_equals_the_data_directory_table():
    full = nb.read_table(str(nb.resolve_data_dir() / nb.TABLE))
    compact = nb.read_compact_table(str(nb.nb201_table_path()))
    assert full.arch_strs == compact.arch_strs and full.op_indices == compact.op_indices
    assert set(full.columns) == set(compact.columns)
    for c in full.columns:
        assert full.columns[c].tobytes() == compact.columns[c].tobytes(), c


@pytest.mark.data
@needs_table
def test_table_values_and_protocol():
    bench = get_benchmark("nb201-cifar10")
    assert isinstance(bench, Benchmark) and bench.num_classes == 10
    assert bench.accuracy(1) == pytest.approx(93.66)
    assert round(max(bench.accuracy(i) for i in bench.arch_ids()), 2) == 94.37
    assert get_benchmark("nb201-cifar100").num_classes == 100
    assert get_benchmark("nb201-imagenet16", metric="valid_12ep").num_classes == 120
    with pytest.raises(EvoproxyError, match="test_200ep"):
        get_benchmark("nb201-cifar10", metric="test_1ep")


@pytest.mark.data
@needs_table
def test_table_ids_splits_and_sampling():
    bench = get_benchmark("nb201-cifar10", split_seed=0)
    search, hold = bench.arch_ids("search"), bench.arch_ids("holdout")
    assert search == get_benchmark("nb201-cifar10", split_seed=0).arch_ids("search")
    assert not set(search) & set(hold) and len(search) + len(hold) == 15625
    s = bench.sample(50, "holdout", seed=2)
    assert s == bench.sample(50, "holdout", seed=2) and set(s) <= set(hold) and len(set(s)) == 50
    for i in (0, 1, 777, 15624):
        assert bench.index_of(bench.arch_of(i)) == i == bench.index_of(bench.op_indices_of(i))
        assert arch_str(bench.op_indices_of(i)) == bench.arch_of(i)
    with pytest.raises(EvoproxyError):
        bench.accuracy(15625)


@pytest.mark.data
@needs_table
def test_build_uses_the_space():
    pytest.importorskip("evoproxy.spaces.nb201")
    net = get_benchmark("nb201-cifar100").build(1)
    assert net(__import__("torch").zeros(2, 3, 32, 32)).shape == (2, 100)


@pytest.mark.data
@needs_zero
def test_suite_zero_loader_and_reference():
    rows = load_suite_zero("cifar10")
    assert 700 <= len(rows) <= 750
    assert all(len(r.op_indices) == 6 for r in rows) and "synflow" in rows[0].proxies
    ref = reference_spearman("cifar10")
    assert 0.6 < ref["nwot"] < 0.9 and 0.6 < ref["synflow"] < 0.9


@pytest.mark.data
@needs_zero
@needs_table
def test_suite_zero_matches_published_figures_against_test_accuracy():
    published = {"synflow": .78, "nwot": .80, "jacov": .73, "snip": .65, "grad_norm": .65,
                 "grasp": .57, "fisher": .55, "params": .77, "flops": .75}
    ref = reference_spearman("cifar10", against="test_200ep")
    for proxy, rho in published.items():
        assert ref[proxy] == pytest.approx(rho, abs=0.006), proxy


def _table(path, text: str):
    (path / "nb201").mkdir()
    (path / "nb201" / "nb201_all_15625.csv").write_text(text)
    nb.read_table.cache_clear()


@pytest.mark.parametrize("fault, text", [
    ("no column", "index,arch_str\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|\n"),
    ("truncated", ",".join(("arch_str", *nb.REQUIRED)) + "\n" + "x,0,111111" + ",1.0" * 12 + "\nx,1,111112,2.0\n"),
    ("not a valid", ",".join(("arch_str", *nb.REQUIRED)) + "\n" + "x,0,111111" + ",abc" * 12 + "\n"),
])
def test_a_bad_table_gives_one_line_naming_the_file(tmp_path, fault, text):
    _table(tmp_path, text)
    with pytest.raises(EvoproxyError) as err:
        get_benchmark("nb201-cifar10", data_dir=tmp_path)
    nb.read_table.cache_clear()
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "nb201" / "nb201_all_15625.csv") in msg and (
        fault in msg or "not a valid" in msg), msg
