"""Benchmark tables are checked on load (issue 39): NaN, infinite, negative or above-100 accuracies, text for a
number, arch strings that are not their op indices, a file that is not UTF-8 are one line naming the file (and
the column and counts); a table that cannot rank (one network, one accuracy for all) loads but refuses to rank;
a search on a table too small for its sizes, or a bad one, stops before it writes anything."""
import csv

import numpy as np
import pytest

from evoproxy.benchmarks.base import check_accuracies, ranking_problem
from evoproxy.benchmarks.nb201.table import METRIC_COLUMNS, NUM_CLASSES, load_nb201, read_compact_table, read_table
from evoproxy.benchmarks.suite_zero import load_suite_zero, load_suite_zero_space
from evoproxy.benchmarks.suite_zero.spaces import read_rows
from evoproxy.benchmarks.suite_zero.release import suite_zero_rows
from evoproxy.cli import main
from evoproxy.data.embedded import nb201_table_path
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.nb201 import arch_str

COLUMN = "cifar10_test_200ep"


def write_nb201(root, n, change=None):
    """An NB201 table of the first ``n`` networks of the embedded one in ``root/nb201``; ``change(rows)``
    edits its rows (dicts of text) first. Returns its path."""
    table = read_compact_table(str(nb201_table_path()))
    columns = [c.format(d) for c in METRIC_COLUMNS.values() for d in NUM_CLASSES]
    rows = [{"index": str(i), "arch_str": arch_str(table.op_indices[i]), "naslib_op_indices": table.op_indices[i],
             **{c: repr(float(table.columns[c][i])) for c in columns}} for i in range(n)]
    if change:
        change(rows)
    path = root / "nb201" / "nb201_all_15625.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, ["index", "arch_str", "naslib_op_indices", *columns])
        w.writeheader()
        w.writerows(rows)
    read_table.cache_clear()
    return path


def _set(column, rows_values):
    def change(rows):
        for i, v in rows_values.items():
            rows[i][column] = v
    return change


@pytest.mark.parametrize("values, says", [
    ({3: "nan"}, "1 NaN"), ({3: "inf", 5: "-inf"}, "2 infinite"), ({2: "-1.5"}, "1 negative"),
    ({4: "100.5", 6: "250"}, "2 above 100"), ({1: "nan", 2: "-3"}, "1 NaN, 1 negative")])
def test_bad_accuracies_are_one_line_naming_file_column_and_counts(tmp_path, values, says):
    path = write_nb201(tmp_path, 40, _set(COLUMN, values))
    with pytest.raises(EvoproxyError) as err:
        load_nb201("cifar10", tmp_path)
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and COLUMN in msg and says in msg, msg
    assert load_nb201("cifar100", tmp_path).accuracy(3) >= 0   # another column of the same file is fine


@pytest.mark.parametrize("change, says", [
    (_set(COLUMN, {3: "abc"}), "not a valid NB201 table"),
    (_set("arch_str", {2: "|garbage~0|"}), "arch_str that is not their naslib_op_indices"),
    (_set("naslib_op_indices", {2: "999999"}), "arch_str that is not their naslib_op_indices")])
def test_text_and_garbage_archs_are_one_line(tmp_path, change, says):
    path = write_nb201(tmp_path, 40, change)
    with pytest.raises(EvoproxyError, match=says) as err:
        load_nb201("cifar10", tmp_path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


@pytest.mark.parametrize("content", [b"index,arch_str\n0,caf\xe9\n", b"\x00\x01\x02\xff" * 100])
def test_a_table_that_is_not_utf8_text_is_one_line(tmp_path, content):
    path = tmp_path / "nb201" / "nb201_all_15625.csv"
    path.parent.mkdir()
    path.write_bytes(content)
    read_table.cache_clear()
    with pytest.raises(EvoproxyError, match="UTF-8") as err:
        load_nb201("cifar10", tmp_path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_a_constant_or_one_network_table_loads_but_refuses_to_rank(tmp_path):
    write_nb201(tmp_path, 30, lambda rows: [r.update({COLUMN: "50.0"}) for r in rows])
    bench = load_nb201("cifar10", tmp_path)
    assert bench.accuracy(0) == 50.0                    # its networks can still be looked at
    with pytest.raises(EvoproxyError, match="one accuracy .* for all its 30 networks"):
        bench.sample(10, "all", 0)
    assert "at least 2" in ranking_problem(np.array([70.0]), "t.csv", "acc")
    assert ranking_problem(np.array([70.0, 71.0]), "t.csv", "acc") is None
    assert check_accuracies([0, 100.0], "t.csv", "acc").tolist() == [0.0, 100.0]


def test_the_shipped_and_shared_tables_pass():
    for dataset in NUM_CLASSES:
        for metric in METRIC_COLUMNS:
            bench = load_nb201(dataset, metric=metric)   # the data directory's table when there is one
            assert bench.unrankable is None and len(bench) == 15625


def test_suite_zero_tables_are_checked(tmp_path):
    folder = tmp_path / "naslib-suite-zero"
    folder.mkdir()
    (folder / "nb101_zc_proxies_500_cifar10.csv").write_text("arch,val_accuracy\na,90.0\nb,nan\nc,91\n")
    with pytest.raises(EvoproxyError, match="1 NaN") as err:
        load_suite_zero_space("nb101-cifar10", tmp_path)
    assert "nb101_zc_proxies_500_cifar10.csv" in str(err.value)
    (folder / "nb101_zc_proxies_500_cifar10.csv").write_text("arch,val_accuracy\na,90.0\nb,ninety\n")
    read_rows.cache_clear()
    with pytest.raises(EvoproxyError, match="'ninety' is not a number"):
        load_suite_zero_space("nb101-cifar10", tmp_path)
    ref = tmp_path / "nb201" / "nb201_zc_proxies_725x3_naslib.csv"
    ref.parent.mkdir()
    ref.write_text("dataset,arch_str,naslib_op_indices,val_accuracy," + ",".join(_PROXIES) + "\n"
                   + "".join(f"cifar10,x,000000,{acc}," + ",".join("1" for _ in _PROXIES) + "\n"
                             for acc in ("80", "inf")))
    with pytest.raises(EvoproxyError, match="1 infinite"):
        load_suite_zero("cifar10", tmp_path)


_PROXIES = ("flops", "params", "synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain", "nwot", "epe_nas",
            "jacov", "snip")


@pytest.mark.parametrize("obj, says", [
    ({"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": float("nan")}}}, "1 NaN"),
    ({"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": 10 ** 400}}}, "OverflowError"),
    ({"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": 1e308 * 10}}}, "has 1 infinite of"),
    ({"cifar10": {"(0, 0, 0, 0, 0, 0)": {"val_accuracy": 50}}, "cifar100": 5}, "cifar100 holds a int")])
def test_a_suite_zero_import_with_bad_accuracies_is_refused(tmp_path, obj, says):
    with pytest.raises(EvoproxyError, match=says) as err:
        suite_zero_rows(obj, tmp_path / "zc_nasbench201.json")
    assert "\n" not in str(err.value) and "zc_nasbench201.json" in str(err.value)


def _search(*args):
    return main(["search", "--benchmark", "nb201-cifar10", "--set", 'baselines=["params"]', "--set", "learned=[]",
                 "--generations", "0", "--quiet", *args])


def test_a_search_on_a_table_smaller_than_its_sizes_stops_first_with_sizes_that_fit(tmp_path, capsys):
    write_nb201(tmp_path / "data", 30)
    out = tmp_path / "runs" / "R"
    assert _search("--data-dir", str(tmp_path / "data"), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot sample search_archs=48 of the 15 'search' archs" in err, err
    assert "--set search_archs=7" in err and "--set holdout_archs=15" in err and "nothing was written" in err
    assert not (tmp_path / "runs").exists()
    from evoproxy.app.search import resolve_config, validate
    sets = [s for s in err.split("sizes that fit: ")[1].split(" (")[0].split() if s != "--set"]
    validate(resolve_config({"benchmarks": ("nb201-cifar10",), "data_dir": str(tmp_path / "data")}, sets))


def test_a_search_on_a_nan_table_leaves_no_folder(tmp_path, capsys):
    write_nb201(tmp_path / "data", 300, _set(COLUMN, {7: "nan"}))
    out = tmp_path / "runs" / "R"
    assert _search("--data-dir", str(tmp_path / "data"), "--out", str(out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "1 NaN" in err and COLUMN in err
    assert not (tmp_path / "runs").exists()
