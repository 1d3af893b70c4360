import json
import os
import pickle
from dataclasses import dataclass

import numpy as np
import pytest

from evoproxy.benchmarks.mq.mqbench101 import MQBench101Row, read_mqbench101, to_csv
from evoproxy.errors import EvoproxyError

GT = {
    2: {"bit_cfg": "[4, 4, 2, 2, 4, 2, 3, 3, 3, 3, 2, 2, 3, 3, 3, 3, 4, 3]", "acc": 61.25},
    0: {"bit_cfg": "[2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]", "acc": 0.1},
    1: {"bit_cfg": [4] * 18, "acc": 69.758},
}
BITS2 = (4, 4, 2, 2, 4, 2, 3, 3, 3, 3, 2, 2, 3, 3, 3, 3, 4, 3)


def _pkl(tmp_path, obj, name="PTQ-GT.pkl"):
    p = tmp_path / name
    p.write_bytes(pickle.dumps(obj))
    return p


def test_pickle_round_trip(tmp_path):
    rows = read_mqbench101(_pkl(tmp_path, GT))
    assert [r.index for r in rows] == [0, 1, 2]
    assert rows[2] == MQBench101Row(2, BITS2, 61.25)
    assert rows[1].bits == (4,) * 18 and rows[0].acc == 0.1
    with pytest.raises(Exception):
        rows[0].acc = 1.0  # frozen


def test_never_calls_pickle_load(tmp_path, monkeypatch):
    p = _pkl(tmp_path, GT)
    for fn in ("load", "loads"):
        monkeypatch.setattr(pickle, fn, lambda *a, **k: pytest.fail("pickle.load used"))
    assert len(read_mqbench101(p)) == 3


def test_csv_and_json_agree_with_pickle(tmp_path):
    want = read_mqbench101(_pkl(tmp_path, GT))
    to_csv(want, tmp_path / "gt.csv")
    assert "2,4-4-2-2-4-2-3" in (tmp_path / "gt.csv").read_text()
    assert read_mqbench101(tmp_path / "gt.csv") == want
    bracket = tmp_path / "b.csv"
    bracket.write_text("index,bit_cfg,acc\n" + "".join(
        f'{k},"{list(r.bits)}",{r.acc}\n' for k, r in enumerate(want)))
    assert read_mqbench101(bracket) == want
    (tmp_path / "d.json").write_text(json.dumps({str(k): v for k, v in GT.items()}))
    assert read_mqbench101(tmp_path / "d.json") == want
    (tmp_path / "l.json").write_text(json.dumps([{"index": k, **v} for k, v in GT.items()]))
    assert read_mqbench101(tmp_path / "l.json") == want


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"echo hacked > {self.target}",))


def test_malicious_pickle_refused_without_side_effect(tmp_path):
    target = tmp_path / "hacked.txt"
    p = _pkl(tmp_path, {0: {"bit_cfg": _Evil(target), "acc": 1.0}})
    with pytest.raises(EvoproxyError, match=r"refused pickle global (posix|nt|os)\.system"):
        read_mqbench101(p)
    assert not target.exists()


@dataclass
class _Cfg:
    bits: list


@pytest.mark.parametrize("value, name", [
    (np.array([4] * 18), "numpy"),
    (_Cfg([4] * 18), "_Cfg"),
    (np.float64(1.0), "numpy"),
])
def test_pickle_with_globals_refused(tmp_path, value, name):
    p = _pkl(tmp_path, {0: {"bit_cfg": value, "acc": 1.0}})
    with pytest.raises(EvoproxyError, match="refused pickle global") as e:
        read_mqbench101(p)
    assert name in str(e.value)


def test_truncated_pickle(tmp_path):
    p = tmp_path / "PTQ-GT.pkl"
    p.write_bytes(pickle.dumps(GT)[:-20])
    with pytest.raises(EvoproxyError, match="corrupt"):
        read_mqbench101(p)


@pytest.mark.parametrize("gt, msg", [
    ({0: {"bit_cfg": "[4, 1, 2]", "acc": 1.0}}, "row 0: bit widths [1] not in 2..32"),
    ({7: {"bit_cfg": [4, 64], "acc": 1.0}}, "row 7: bit widths [64]"),
    ({3: {"bit_cfg": "[4, x, 2]", "acc": 1.0}}, "row 3: bit_cfg '[4, x, 2]' is not a list"),
    ({3: {"bit_cfg": "[4, -2]", "acc": 1.0}}, "row 3: bit_cfg"),
    ({3: {"bit_cfg": [4.0, 2], "acc": 1.0}}, "row 3: bit_cfg"),
    ({0: {"bit_cfg": "4,4", "acc": 1.0}, 5: {"bit_cfg": "4,4,4", "acc": 1.0}},
     "row 5: 3 bit widths, but row 0 has 2"),
    ({4: {"bit_cfg": "4,4"}}, "row 4: needs keys 'bit_cfg' and 'acc'"),
    ({4: {"bit_cfg": "4,4", "acc": float("nan")}}, "row 4: acc nan is not a finite"),
    ({4: {"bit_cfg": "4,4", "acc": "high"}}, "row 4: acc 'high'"),
    ({-1: {"bit_cfg": "4,4", "acc": 1.0}}, "index -1 is not a non-negative int"),
    ([{"bit_cfg": "4,4", "acc": 1.0}], "index None"),
    ({}, "no MQ-Bench-101 rows"),
    ("nope", "expected a dict"),
])
def test_bad_rows(tmp_path, gt, msg):
    with pytest.raises(EvoproxyError) as e:
        read_mqbench101(_pkl(tmp_path, gt))
    assert msg in str(e.value)


def test_duplicate_index_in_json(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps([{"index": 1, "bit_cfg": "4-4", "acc": 1.0}] * 2))
    with pytest.raises(EvoproxyError, match="duplicate MQ-Bench-101 index 1"):
        read_mqbench101(p)


def test_unknown_suffix_and_missing_file(tmp_path):
    (tmp_path / "gt.txt").write_text("x")
    with pytest.raises(EvoproxyError, match=r"use one of \.pkl, \.pickle, \.csv, \.json"):
        read_mqbench101(tmp_path / "gt.txt")
    with pytest.raises(EvoproxyError, match="not found.*PTQ-GT.pkl"):
        read_mqbench101(tmp_path / "missing.pkl")


def test_csv_missing_column_and_bad_json(tmp_path):
    (tmp_path / "a.csv").write_text("index,bits,acc\n0,4-4,1.0\n")
    with pytest.raises(EvoproxyError, match="CSV needs columns index,bit_cfg,acc"):
        read_mqbench101(tmp_path / "a.csv")
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(EvoproxyError, match="corrupt file"):
        read_mqbench101(tmp_path / "a.json")
