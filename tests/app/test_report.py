"""Readable run directories, `evoproxy report` (its data files, not its pixels), `runs` and `status`."""
import csv
import json
from datetime import datetime

import pytest

from evoproxy.app.run_report import build_report, tree_nodes
from evoproxy.app.runs import find_runs, run_status, scored_programs
from evoproxy.cli import main
from evoproxy.lang.program import parse
from evoproxy.evolve.config import load_config
from evoproxy.evolve.store import RunStore

SETS = ["--set", "generations=3", "--set", "population=8", "--set", "offspring=4", "--set", "search_archs=16",
        "--set", "selection_archs=12", "--set", "holdout_archs=20", "--set", "screen_archs=8"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "syn"
    assert main(["search", "--config", "experiments/synthetic.toml", "--out", str(out), *SETS]) == 0
    return out


def load_config_dict(stored):
    from evoproxy.evolve.config import from_dict
    return from_dict(stored).identity()


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_the_run_directory_is_readable_without_sql(run):
    config = load_config(run / "config.toml")  # the resolved config loads back as it was
    with RunStore(run, create=False) as store:
        assert config.identity() == load_config_dict(store.load_config())
        summaries = store.summaries()
        report = store.get_meta("report")
    gens = rows(run / "generations.csv")
    assert [int(r["generation"]) for r in gens] == [0, 1, 2, 3]
    assert [float(r["best_fitness"]) for r in gens] == pytest.approx([s["best_fitness"] for s in summaries])
    assert all(float(r["median_fitness"]) <= float(r["best_fitness"]) for r in gens)
    assert int(gens[0]["rejected"]) == sum(summaries[0]["rejections"].values())
    hof = rows(run / "hall_of_fame.csv")
    evolved = [r for r in hof if r["kind"] == "evolved"]
    assert [r["formula"] for r in evolved] == [e["formula"] for e in report["hall_of_fame"]]
    assert float(evolved[0]["holdout_kendall[synthetic]"]) == pytest.approx(
        report["hall_of_fame"][0]["holdout"]["synthetic"]["kendall"])
    assert {r["name"] for r in hof if r["kind"] == "baseline"} == {"params", "l2_norm", "snip"}


def test_report_writes_each_figure_with_its_data(run, tmp_path):
    page = build_report(str(run), str(tmp_path / "rep"))
    out = page.parent
    for name in ("convergence", "holdout", "pareto", "time_to_quality", "rejections", "diversity", "formula"):
        assert (out / f"{name}.png").stat().st_size > 1000, name
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 7 and "hall of fame" in html
    with RunStore(run, create=False) as store:
        report = store.get_meta("report")
    scores = rows(out / "holdout_scores.csv")
    table = report["holdout_scores"]["synthetic"]
    assert [int(r["arch_id"]) for r in scores] == table["arch_ids"]
    assert [float(r["evolved #1"]) for r in scores] == pytest.approx(table["scores"]["evolved #1"])
    assert {"params", "snip", "l2_norm"} <= set(scores[0])
    # the figure's tau is the holdout figure the run reported for its best formula
    from evoproxy.scoring.fitness import kendall
    tau = kendall([float(r["evolved #1"]) for r in scores], [float(r["accuracy"]) for r in scores])
    assert tau == pytest.approx(report["hall_of_fame"][0]["holdout"]["synthetic"]["kendall"])
    pareto = rows(out / "pareto.csv")
    assert [int(r["size"]) for r in pareto] == sorted(int(r["size"]) for r in pareto)
    rejected = rows(out / "rejections.csv")
    assert sum(int(r["count"]) for r in rejected) == sum(report["rejections"].values())
    nodes = rows(out / "formula.csv")
    assert len(nodes) == parse(report["hall_of_fame"][0]["formula"]).size


def test_formula_tree_layout():
    nodes = tree_nodes(parse("add(layer_sum(l2(grad)), 2.0)"))
    assert [n["label"] for n in nodes] == ["add", "layer_sum", "l2", "grad", "2"]
    assert [n["parent"] for n in nodes] == ["", 0, 1, 2, 0]
    assert [n["x"] for n in nodes] == [0.5, 0.0, 0.0, 0.0, 1.0]  # leaves 0 and 1, the root between


def test_report_of_eval_and_allocate_files(tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    scores.write_text("arch_id,accuracy,a,b\n1,90.0,3.0,1.0\n2,80.0,2.0,2.0\n3,70.0,1.0,3.0\n")
    page = build_report(str(scores))
    assert page.parent == tmp_path / "scores-report" and (page.parent / "scatter.png").exists()
    alloc = tmp_path / "alloc.json"
    alloc.write_text("some progress line\n" + json.dumps({"rows": [
        {"budget_mb": 0.2, "method": "m", "size_mb": 0.19, "top1": 80.0, "evaluations": 3, "config": "4,4"}]}))
    assert (build_report(str(alloc)).parent / "allocations.png").exists()
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n")
    assert main(["report", str(tmp_path / "bad.csv")]) == 2
    assert "not an `evoproxy eval --save` file" in capsys.readouterr().err


def test_runs_and_status(run, capsys):
    assert find_runs(run.parent) == [run]
    s = run_status(run)
    assert s["state"] == "finished" and s["generation"] == 3 and s["elapsed_s"] >= 0
    with RunStore.reader(run) as store:     # the final report's time is part of the elapsed time
        report_s, commits = store.get_meta("report_seconds"), store.commit_times()
    first, last = (datetime.fromisoformat(commits[i][1]) for i in (0, -1))
    assert report_s > 0 and s["elapsed_s"] > (last - first).total_seconds() + report_s
    assert main(["runs", str(run.parent)]) == 0
    out = capsys.readouterr().out
    assert "finished" in out and "3/3" in out
    assert main(["status", str(run)]) == 0
    assert f"evoproxy report {run}" in capsys.readouterr().out
    assert main(["status", str(run.parent)]) == 2
    assert "no run.sqlite" in capsys.readouterr().err


def test_scored_programs_replays_what_each_generation_fully_scored(run):
    """Per generation: the candidates neither rejected nor reused, in their order; absent generations skipped."""
    with RunStore(run, create=False) as store:
        everything = store.candidates()
    calls = scored_programs(run, range(0, 99))
    expected = [[c.text for c in everything if c.generation == g and c.rejection is None and c.reused_from is None]
                for g in sorted({c.generation for c in everything})]
    assert calls == [texts for texts in expected if texts] and len(calls) >= 2
    assert sum(map(len, calls)) < len(everything)  # some were rejected or reused
    assert scored_programs(run, range(1, 2)) == [expected[1]]


def test_time_to_quality_is_each_generations_best_on_the_final_holdout(run, tmp_path):
    import evoproxy
    result = evoproxy.load_result(run)
    assert [p["generation"] for p in result.progress] == [0, 1, 2, 3]
    assert [p["formula"] for p in result.progress] == [g["best"] for g in result.generations]
    minutes = [p["minutes"] for p in result.progress]
    assert minutes == sorted(minutes) and minutes[0] > 0
    # the same program scored once on the same holdout networks: the hall of fame's figure
    by_formula = {e.formula: e.holdout for e in result.hall_of_fame}
    shared = [p for p in result.progress if p["formula"] in by_formula]
    assert shared and all(p["holdout"] == by_formula[p["formula"]] for p in shared)
    curve = rows(build_report(str(run), str(tmp_path / "rep")).parent / "time_to_quality.csv")
    assert [float(r["kendall"]) for r in curve] == pytest.approx([p["holdout"]["synthetic"]["kendall"]
                                                                  for p in result.progress])


def test_report_compare_draws_other_runs_curves_and_refuses_a_run_without_one(run, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["search", "--config", "experiments/synthetic.toml", "--out", str(other), "--quiet", *SETS,
                 "--set", "seed=2"]) == 0
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--compare", str(other)]) == 0
    curve = rows(tmp_path / "rep" / "time_to_quality.csv")
    assert list(dict.fromkeys(r["run"] for r in curve)) == [str(run), str(other)]
    with RunStore(other, create=False) as store:    # a run whose report predates the record
        report = store.get_meta("report")
        store.set_meta("report", {k: v for k, v in report.items() if k != "progress"})
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "rep2"), "--compare", str(other)]) == 2
    err = capsys.readouterr().err.strip()
    assert "time-to-quality" in err and len(err.splitlines()) == 1


@pytest.fixture
def drawn(monkeypatch):
    """The figures the next drawing calls made, kept open instead of written."""
    from evoproxy.app import figures
    kept = []
    monkeypatch.setattr(figures, "_save", lambda fig, path, dpi=80: kept.append(fig) or path)
    yield kept
    import matplotlib.pyplot as plt
    for fig in kept:
        plt.close(fig)


def _whole(ticks) -> bool:
    return len(ticks) > 0 and all(float(t).is_integer() for t in ticks)


def test_figures_of_whole_numbers_have_whole_ticks_and_every_axis_a_label(drawn, tmp_path):
    from evoproxy.app import figures
    figures.pareto([{"size": 3, "search_fitness": 0.5}, {"size": 4, "search_fitness": 0.6},
                    {"size": 5, "search_fitness": 0.7}], tmp_path / "p.png")
    figures.pareto([{"size": 3, "search_fitness": 0.5}], tmp_path / "p1.png")   # one point: still whole numbers
    figures.rejections([{"generation": 0, "reason": "constant", "count": 1},
                        {"generation": 1, "reason": "ties", "count": 2}], tmp_path / "r.png")
    gens = [{"generation": g, "distinct": 4, "population": 8, "mean_rho": 0.3, "best_fitness": 0.5,
             "median_fitness": 0.4, "best_selection": 0.45} for g in range(3)]
    figures.diversity(gens, tmp_path / "d.png")
    base = [{"proxy": "snip", "search": 0.41}, {"proxy": "synflow", "search": 0.42}]   # labels that would collide
    figures.convergence(gens, base, "kendall", tmp_path / "c.png")
    pareto, single, rejected, diversity, convergence = (fig.axes[0] for fig in drawn)
    for ax in (pareto, single):
        ax.figure.canvas.draw()
        assert _whole(ax.get_xticks()), ax.get_xticks()
    rejected.figure.canvas.draw()
    assert _whole(rejected.get_xticks()) and _whole(rejected.get_yticks()), rejected.get_yticks()
    assert diversity.get_ylabel() and diversity.get_xlabel() == "generation"
    assert not convergence.texts   # baseline names in the legend, not text at the line ends
    labels = [t.get_text() for t in convergence.get_legend().get_texts()]
    assert "snip 0.410" in labels and "synflow 0.420" in labels


def test_eval_file_panels_have_axis_labels_and_rho(drawn, tmp_path):
    from evoproxy.app.file_reports import eval_tables
    from evoproxy.app.run_report import draw
    path = tmp_path / "scores.csv"
    path.write_text("arch_id,accuracy,a,b\n1,90.0,3.0,1.0\n2,80.0,2.0,2.0\n3,70.0,1.0,3.0\n")
    draw("eval", eval_tables(path), {}, tmp_path)
    first, second = drawn[0].axes[:2]
    assert first.get_xlabel() and first.get_ylabel()
    assert "tau 1.00" in first.get_title() and "rho 1.00" in first.get_title()
    assert "rho -1.00" in second.get_title()


def test_the_html_tables_fit_the_page(run, tmp_path):
    page = build_report(str(run), str(tmp_path / "rep")).read_text()
    assert "td.formula{word-break:break-all" in page and ".table{max-width:100%;overflow-x:auto}" in page
    assert '<div class="table"><table>' in page and '<td class="formula">' in page


def test_search_prints_the_selection_fitness_the_hall_of_fame_is_ordered_by(run, capsys):
    assert main(["search", "--resume", str(run)]) == 0   # a finished run: its report again
    out = capsys.readouterr().out
    assert "ordered by selection fitness (selection-split kendall" in out
    with RunStore(run, create=False) as store:
        hof = store.get_meta("report")["hall_of_fame"]
    lines = [line for line in out.splitlines() if ". selection " in line]
    assert len(lines) == len(hof)
    shown = [float(line.split("selection ")[1].split()[0]) for line in lines]
    assert shown == pytest.approx([e["selection"]["synthetic"]["kendall"] for e in hof], abs=5e-4)
    assert shown == sorted(shown, reverse=True)
    assert all(f"search {e['search_fitness']:.3f}" in line for e, line in zip(hof, lines))
