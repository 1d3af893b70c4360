"""Set-level programs (ranks over the networks scored together) through every scoring path:
eval and its --save continuation, the search backends, and load_proxy."""
import csv
import json

import numpy as np
import pytest
from scipy.stats import kendalltau, rankdata

from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.lang.program import FormulaError, parse
from evoproxy.evolve.evaluator import Evaluator
from evoproxy.scoring.score import load_proxy

ENSEMBLE = "add(log(rank(flops)), log(rank(layer_sum(l2(weight)))))"
EVAL = ["eval", "--benchmark", "synthetic", "--archs", "12", "--probe", "synthetic", "--batch-size", "4", "--quiet"]


def _eval_json(capsys, proxies, *extra):
    assert main([*EVAL, "--proxy", proxies, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_eval_save_writes_one_column_per_network_part_even_for_equal_formulas(capsys, tmp_path):
    save = tmp_path / "s.csv"
    proxies = f"{ENSEMBLE};l2_norm;layer_sum(l2(weight));flops"   # l2_norm and the formula are equal
    first = _eval_json(capsys, proxies, "--save", str(save))
    rows = list(csv.reader(save.open()))
    assert rows[0][2:] == [f"{ENSEMBLE}[1]", f"{ENSEMBLE}[2]", "l2_norm", "layer_sum(l2(weight))", "flops"]
    assert len(rows) == 13 and all(len(r) == len(rows[0]) for r in rows)
    values = np.array([[float(v) for v in r[2:]] for r in rows[1:]])
    assert np.array_equal(values[:, 0], values[:, 4]) and np.array_equal(values[:, 1], values[:, 2])
    again = _eval_json(capsys, proxies, "--save", str(save))       # continued: nothing re-probed, same figures
    assert again["kendall"] == first["kendall"] and len(list(csv.reader(save.open()))) == 13
    want = np.log(rankdata(values[:, 0]) / 12) + np.log(rankdata(values[:, 1]) / 12)   # AZ-NAS's rule by hand
    accuracy = np.array([float(r[1]) for r in rows[1:]])
    assert first["kendall"][ENSEMBLE] == pytest.approx(kendalltau(want, accuracy)[0])
    assert _eval_json(capsys, ENSEMBLE)["kendall"] == pytest.approx(first["kendall"][ENSEMBLE])


class _FakeBackend:
    """Scores a program text on a key as a fixed function of the arch id (checks the plumbing)."""

    def score(self, texts, keys):
        value = {"params": lambda a: float(a), "negate(params)": lambda a: -float(a)}
        return np.array([[value[t](k[1]) for k in keys] for t in texts]), {}


def test_search_ranks_each_benchmark_separately():
    keys = [("b1", 3), ("b1", 1), ("b2", 10), ("b2", 30), ("b2", 20)]
    scores, failed = Evaluator(_FakeBackend()).score(["rank(params)", "params"], keys)
    assert failed == {}
    assert scores[0].tolist() == [1.0, 0.5, 1 / 3, 1.0, 2 / 3] and scores[1].tolist() == [3, 1, 10, 30, 20]


def test_load_proxy_refuses_a_set_level_proxy_in_one_line(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"formula": ENSEMBLE}))
    with pytest.raises(EvoproxyError, match="set-level"):
        load_proxy(path)


def test_a_set_value_never_meets_a_per_layer_or_tensor_value():
    for bad in ("add(rank(params), l2(weight))", "mul(rank(params), weight)", "layer_sum(rank(params))",
                "sum(rank(params))"):
        with pytest.raises(FormulaError):
            parse(bad)
    assert str(parse("add(rank(params), params)").vtype) == "set"
