"""`evoproxy data import`: the NB201 / NATS-Bench / Suite-Zero releases, written here in their exact
layouts, become the data directory's tables; a pickle that would run code is refused in one line."""
import csv
import os
import pickle

import pytest

from evoproxy.app.data_import import RECORD, import_path
from evoproxy.benchmarks.nb201 import TABLE, load_nb201
from evoproxy.benchmarks.suite_zero import SUITE_ZERO, load_suite_zero
from evoproxy.benchmarks.suite_zero.spaces import FILES as SPACE_FILES, load_suite_zero_space
from evoproxy.errors import EvoproxyError
from evoproxy.spaces.nb201 import op_indices
from tests import releasehelp as rh


def _rows(root):
    with open(root / TABLE, newline="") as f:
        return list(csv.DictReader(f))


def _check_table(root):
    rows = _rows(root)
    assert [r["arch_str"] for r in rows] == list(rh.ARCHS)
    for i, r in enumerate(rows):
        assert r["index"] == str(i) and r["naslib_op_indices"] == op_indices(rh.ARCHS[i])
        for col, value in rh.expected_row(i).items():
            assert float(r[col]) == pytest.approx(value, abs=1e-9), (i, col)
    bench = load_nb201("cifar100", data_dir=root)   # the benchmarks read what was written
    assert bench.arch_of(1) == rh.ARCHS[1] and "data directory" in bench.label
    assert bench.accuracy(2) == pytest.approx(rh.expected_row(2)["cifar100_test_200ep"])


@pytest.mark.parametrize("form", ["folder", "tar"])
def test_nats_tss_simple_becomes_the_nb201_table(tmp_path, form):
    src = rh.write_nats(tmp_path / "release")
    if form == "tar":
        src = rh.tar_of(src, tmp_path / "NATS-tss-v1_0-3ffb9-simple.tar")
    importer, root, written = import_path(str(src), str(tmp_path / "data"))
    assert importer.name == "nats-tss" and written == {str(root / TABLE): 3}
    _check_table(root)
    record = (root / RECORD).read_text()
    assert TABLE in record and ("sha256" in record)


@pytest.mark.parametrize("legacy", [True, False])
def test_nas_bench_201_pth_becomes_the_same_table(tmp_path, legacy):
    src = rh.write_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth", legacy=legacy)
    importer, root, _ = import_path(str(src), str(tmp_path / "data"))
    assert importer.name == "nb201-pth"
    _check_table(root)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _refused(err, path) -> None:
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "system" in msg


def test_a_nats_pickle_that_would_run_code_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "pwned"
    src = rh.write_nats(tmp_path / "release", evil={"200": _RunsCode(marker)})
    with pytest.raises(EvoproxyError) as err:
        import_path(str(src), str(tmp_path / "data"))
    _refused(err, src)
    assert not marker.exists() and not (tmp_path / "data" / TABLE).exists()
    assert not list((tmp_path / "data").rglob("*.part"))   # a failed import leaves nothing behind


def test_a_pth_that_would_run_code_is_refused_in_one_line(tmp_path):
    marker = tmp_path / "pwned"
    src = rh.write_pth(tmp_path / "NAS-Bench-201-v1_0-e61699.pth", evil=_RunsCode(marker))
    with pytest.raises(EvoproxyError) as err:
        import_path(str(src), str(tmp_path / "data"))
    _refused(err, src)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncated bz2", "not a dict", "missing key", "truncated pth"])
def test_damaged_releases_give_one_line_naming_the_file(tmp_path, damage):
    if damage == "truncated pth":
        src = rh.write_pth(tmp_path / "x.pth")
        src.write_bytes(src.read_bytes()[:-200])
        where = src
    else:
        src = rh.write_nats(tmp_path / "release")
        where = src / "000001.pickle.pbz2"
        data = {"truncated bz2": where.read_bytes()[:-40], "not a dict": rh._pbz2([1, 2]),
                "missing key": rh._pbz2({"12": {"dataset_seed": {}}, "200": {}})}[damage]
        where.write_bytes(data)
    with pytest.raises(EvoproxyError) as err:
        import_path(str(src), str(tmp_path / "data"))
    msg = str(err.value)
    assert "\n" not in msg and (str(where) in msg or str(src) in msg), msg


def test_naslib_zero_cost_json_becomes_the_suite_zero_table(tmp_path):
    src = rh.write_zc_json(tmp_path / "zc_nasbench201.json")
    importer, root, written = import_path(str(src), str(tmp_path / "data"))
    assert importer.name == "suite-zero" and written == {str(root / SUITE_ZERO): 9}
    rows = load_suite_zero("imagenet16", data_dir=root)
    assert [r.op_indices for r in rows] == ["433000", "224124", "102314"]
    assert rows[1].val_accuracy == 83.0 and rows[1].proxies["synflow"] == 10.0 + 2 + 2
    assert rows[0].arch_str == "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


@pytest.mark.parametrize("name, keys", [("nb101-cifar10", rh.NB101_KEYS), ("nb301-cifar10", rh.NB301_KEYS)])
def test_naslib_nb101_and_nb301_json_become_their_tables(tmp_path, name, keys):
    src = rh.write_space_zc_json(tmp_path / f"zc_nasbench{name[2:5]}.json", keys)
    importer, root, written = import_path(str(src), str(tmp_path / "data"))
    assert importer.name == "suite-zero" and written == {str(root / SPACE_FILES[name]): len(keys)}
    bench = load_suite_zero_space(name, data_dir=root)
    assert [bench.arch_of(i) for i in bench.arch_ids("all")] == list(keys)
    assert bench.accuracy(len(keys) - 1) == 90.0 + len(keys) - 1
    assert bench.reference(0) == {"flops": 0.0, "params": 1.0, "synflow": 2.0, "snip": 3.0}


@pytest.mark.parametrize("text", ["{not json", '{"cifar10": {"(9, 9)": {}}}', '[1, 2]',
                                  '{"cifar10": {"(0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 1, 3)": {"id": 1}}}',
                                  '{"cifar10": {"(0, 0, 0, 0, 0, 0)": {"id": 1}}}'])
def test_a_bad_zero_cost_json_gives_one_line(tmp_path, text):
    src = tmp_path / "zc.json"
    src.write_text(text)
    with pytest.raises(EvoproxyError) as err:
        import_path(str(src), str(tmp_path / "data"))
    assert "\n" not in str(err.value) and str(src) in str(err.value)


def test_an_unknown_file_names_what_can_be_imported(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(EvoproxyError, match="NATS-tss") as err:
        import_path(str(tmp_path / "notes.txt"), str(tmp_path / "data"))
    assert "\n" not in str(err.value)
    with pytest.raises(EvoproxyError, match="does not exist"):
        import_path(str(tmp_path / "nope.pth"), str(tmp_path / "data"))


def test_the_restricted_unpickler_admits_containers_and_numpy_only():
    import numpy as np
    from evoproxy.data.safepickle import UnsafePickle, load_restricted
    ok = {"a": np.arange(3), "b": np.float64(1.5), "c": {1, 2}, "d": (1, "x")}
    back = load_restricted(pickle.dumps(ok), "x")
    assert back["b"] == 1.5 and back["c"] == {1, 2} and list(back["a"]) == [0, 1, 2]
    for bad in (pickle.loads, print, EvoproxyError("x")):
        with pytest.raises(UnsafePickle):
            load_restricted(pickle.dumps(bad), "x")
