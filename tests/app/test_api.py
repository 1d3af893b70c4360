"""The Python API: ``evoproxy.evolve`` and ``evoproxy.evaluate_proxies`` return typed results, the
same ones the CLI prints."""
import json

import pytest

import evoproxy
from evoproxy.evolve.config import load_config
from evoproxy.evolve.results import BaselineEntry, HallOfFameEntry, SearchResult

SMALL = dict(generations=2, population=8, offspring=4, search_archs=16, selection_archs=12, holdout_archs=20,
             screen_archs=8, baselines=["params", "grad_norm"])


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "syn"
    return evoproxy.search("experiments/synthetic.toml", out=out, **SMALL)


def test_search_returns_typed_results(result):
    assert isinstance(result, SearchResult) and result.run_dir.is_dir()
    assert result.hall_of_fame and all(isinstance(e, HallOfFameEntry) for e in result.hall_of_fame)
    assert result.best is result.hall_of_fame[0] and result.best.rank == 1
    assert evoproxy.parse(result.best.formula).text == result.best.formula
    assert [b.proxy for b in result.baselines] == ["params", "grad_norm"]
    assert all(isinstance(b, BaselineEntry) and "synthetic" in b.holdout for b in result.baselines)
    assert [g["generation"] for g in result.generations] == [0, 1, 2]
    doc = json.loads(result.to_json())
    assert doc["hall_of_fame"][0]["formula"] == result.best.formula and len(doc["generations"]) == 3


def test_a_finished_run_resumes_to_the_same_result(result):
    again = evoproxy.search(resume=result.run_dir)
    assert again.hall_of_fame == result.hall_of_fame and again.baselines == result.baselines


def test_a_finished_run_reads_back_as_the_same_typed_result(result, tmp_path):
    again = evoproxy.load_result(result.run_dir)
    assert again == result and again.generations == result.generations
    with pytest.raises(evoproxy.EvoproxyError, match="no run store"):
        evoproxy.load_result(tmp_path)


def test_a_config_object_or_mapping_gives_the_run_a_file_gives(tmp_path, result):
    cfg = load_config("experiments/synthetic.toml").replace(**{k: tuple(v) if isinstance(v, list) else v
                                                               for k, v in SMALL.items()})
    same = evoproxy.search(cfg, out=tmp_path / "obj")
    assert [e.formula for e in same.hall_of_fame] == [e.formula for e in result.hall_of_fame]
    assert same.baselines == result.baselines


def test_bad_input_is_one_line_and_leaves_no_run_folder(tmp_path):
    with pytest.raises(evoproxy.EvoproxyError) as err:
        evoproxy.search({"benchmarks": ["synthetic"], "population": 0}, out=tmp_path / "bad")
    assert "population" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "bad").exists()


def test_evaluate_proxies_gives_evals_figures(tmp_path):
    run = evoproxy.evaluate_proxies(["params", "layer_sum(l2(grad))"], benchmark="synthetic", archs=12,
                                    split="holdout", save=str(tmp_path / "s.csv"))
    by_name = {r.proxy: r for r in run.results}
    assert by_name["layer_sum(l2(grad))"].kendall == pytest.approx(1.0)   # the synthetic ground truth
    assert len(run.arch_ids) == 12 and (tmp_path / "s.csv").read_text().count("\n") == 13
    with pytest.raises(evoproxy.EvoproxyError):
        evoproxy.evaluate_proxies("params", benchmark="synthetic", archs=12, split="nowhere")
