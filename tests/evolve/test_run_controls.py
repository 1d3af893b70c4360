"""Run controls: a time budget that ends a run cleanly with its report, and warm starts."""
import csv
import re

import pytest

from evoproxy.cli import main
from evoproxy.evolve.store import RunStore

SETS = ["--set", "generations=3", "--set", "population=8", "--set", "offspring=4", "--set", "search_archs=16",
        "--set", "selection_archs=12", "--set", "holdout_archs=20", "--set", "screen_archs=8"]


def search(out, *args):
    return main(["search", "--config", "experiments/synthetic.toml", "--out", str(out), "--quiet", *SETS, *args])


@pytest.mark.slow
def test_a_time_budget_ends_the_run_with_a_report_and_resume_goes_on(tmp_path, capsys):
    out = tmp_path / "timed"
    assert search(out, "--max-minutes", "1e-9") == 0  # past the budget as soon as generation 0 is in
    printed = capsys.readouterr().out
    assert "ended the run after generation 0" in printed and f"--resume {out}" in printed
    peak = re.search(r"peak memory: ([\d,]+) MB resident", printed)
    assert peak and 50 < int(peak.group(1).replace(",", "")) < 64_000  # torch alone is more than 50 MB
    with RunStore(out, create=False) as store:
        assert store.last_generation() == 0 and store.get_meta("status") == "finished"
        assert store.get_meta("report")["stopped_at"] == 0 and store.get_meta("report")["hall_of_fame"]
    assert main(["search", "--resume", str(out), "--quiet"]) == 0
    with RunStore(out, create=False) as store:
        assert store.last_generation() == 3 and store.get_meta("report")["stopped_at"] is None
    with open(out / "generations.csv") as f:
        assert [r["generation"] for r in csv.DictReader(f)] == ["0", "1", "2", "3"]


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("warm") / "first"
    assert search(out) == 0
    return out


def test_a_warm_start_from_a_run_begins_with_its_population(first_run, tmp_path):
    with RunStore(first_run, create=False) as store:
        population = {i["text"] for i in store.load_generation(store.last_generation())[0]}
    out = tmp_path / "warm"
    assert search(out, "--init-from", str(first_run), "--set", "seed=5") == 0
    with RunStore(out, create=False) as store:
        seeded = [c for c in store.candidates(0) if c.origin == "init_from"]
        assert store.load_config()["init_from"] == str(first_run)
    assert {c.text for c in seeded} == population
    assert all(c.rejection is None or c.rejection == "duplicate" for c in seeded)


def test_a_warm_start_from_a_file_and_bad_ones(tmp_path, capsys):
    good = tmp_path / "mine.txt"
    good.write_text("# my two favourites\nlayer_sum(l2(grad))\nsnip  # a proxy name\n")
    out = tmp_path / "fromfile"
    assert search(out, "--init-from", str(good)) == 0
    with RunStore(out, create=False) as store:
        assert {c.text for c in store.candidates(0) if c.origin == "init_from"} == {
            "layer_sum(l2(grad))", "layer_sum(sum(abs(mul(grad, weight))))"}
    capsys.readouterr()
    bad = tmp_path / "bad.txt"
    bad.write_text("layer_sum(l2(virtual_grad))\n")  # synthetic.toml's stats are weight, grad, act
    assert search(tmp_path / "never", "--init-from", str(bad)) == 2
    err = capsys.readouterr().err
    assert "virtual_grad" in err and err.count("\n") == 1 and not (tmp_path / "never").exists()
    assert search(tmp_path / "never", "--init-from", str(tmp_path / "missing")) == 2
    assert "no such run directory or file" in capsys.readouterr().err


@pytest.mark.slow
def test_a_search_split_left_without_selection_networks_says_so_and_selects_on_the_search_networks(tmp_path, capsys):
    out = tmp_path / "full"
    assert search(out, "--set", "search_archs=99") == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "leaving 1 for the selection split" in notes[0] and "lower search_archs" in notes[0]
    with RunStore(out, create=False) as store:
        best = store.get_meta("report")["hall_of_fame"][0]
    assert best["selection"]["synthetic"]["kendall"] == pytest.approx(best["search_fitness"])
