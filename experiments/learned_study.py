"""Evolved formulas against learned models on the same labels, and what either picks for a NAS user.

    python experiments/learned_study.py --run   # three searches of experiments/nb201-meco.toml into runs/meco,
                                                # then every scoring (resumable), then the tables
    python experiments/learned_study.py         # the tables from what is saved

The searches (one per seed) label 64 search + 64 selection networks with CIFAR-10 accuracy. Each
learned model (random forest, gradient boosting, GRAF-style: the forest with the cell's op counts
and paths) is trained on exactly those networks and labels, over :data:`FEATURES` (the published
proxies' values, probed as the holdout is: batch 32, init seed 0), and predicts the 1,000
final-holdout networks no search saw. Every row is scored on those same networks:

* rank correlation (Kendall / Spearman) with CIFAR-10, CIFAR-100 and ImageNet16-120 accuracy;
* the decision: accuracy of the best network among a proxy's top 1 / top 10 of 500 candidates drawn
  from the 1,000 (50 draws), its regret to the best of the 500, and nDCG@10 over the 1,000;
* the label budget: the learned models trained on 32 ... 512 random networks of the 1,000 and tested
  on the rest (20 splits each), beside the evolved rows (128 labels).

``--holdout-archs N`` reads the tables on the first N of the 1,000 (scored in that order).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

import studylib
from evoproxy.app import evaluate
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.cli.registry import add_data_dir
from evoproxy.evolve import learned
from evoproxy.evolve.config import from_dict
from evoproxy.evolve.ensemble import forward_select, log_ranks
from evoproxy.app.runs import finished_report
from evoproxy.evolve.splits import selection_ids
from evoproxy.evolve.store import RunStore
from evoproxy.lang.proxies import PROXIES
from evoproxy.scoring.decision import ndcg_at_k, top_k_pick
from evoproxy.scoring.fitness import kendall, spearman
from evoproxy.scoring.summary import rankable

FEATURES = ("meco", "aznas_expressivity", "aznas_progressivity", "aznas_trainability", "flops", "synflow", "nwot",
            "zico", "params")
"""The published proxies a learned model sees (AZ-NAS's four terms: expressivity, progressivity,
trainability and its complexity term, FLOPs)."""
BASELINES = ("aznas", "meco", "vkdnw", "params")
HOLDOUT_PROXIES = (*FEATURES, "aznas")
MODELS = ("random_forest", "boosted", "graf")
HOLDOUT, BUDGETS, SPLITS, DRAWS = 1000, (32, 64, 128, 256, 512), 20, 50
ENSEMBLE_JOINS, CANDIDATES = 8, 500


def train_ids(run: Path, data_dir) -> list[int]:
    """The search + selection networks of a finished run (its labelled networks), in that order."""
    store = RunStore(run, create=False)
    try:
        config = from_dict(store.load_config())
    finally:
        store.close()
    bench = open_benchmark("nb201-cifar10", data_dir, config.task.split_seed, "test_200ep", None)
    search = bench.sample(config.task.search_archs, "search", config.evolution.seed)
    return search + selection_ids(bench, config, [("nb201-cifar10", a) for a in search])


def score_ids(names: str, ids: list[int], save: Path, data_dir) -> None:
    """``names`` on the networks ``ids`` into ``save`` (continued if cut), as the holdout was scored."""
    plan = evaluate.plan_eval(names, "nb201-cifar10", "2", "all", seed=studylib.SEED, batch_size=studylib.BATCH,
                              data_dir=data_dir)
    plan = evaluate.EvalPlan(plan.bench, plan.specs, ids, plan.batch, plan.seed, plan.device,
                             evaluate.ScoreWriter(str(save), plan.bench, ids, evaluate.network_specs(plan.specs)))
    print(f"{len(plan.archs) - len(plan.done)} of {len(ids)} training networks to score into {save}", flush=True)
    plan.run()


def scores(names: str, path: Path, ids: list[int], data_dir) -> dict[str, np.ndarray]:
    """{proxy: its scores on ``ids``} from a saved file (set-level proxies ranked over ``ids``)."""
    bench = open_benchmark("nb201-cifar10", data_dir, studylib.SEED, "test_200ep", None)
    specs = evaluate.proxy_specs(names, bench)
    done = studylib.saved_scores(path, specs, ids, "run this script (and search_study.py) with --run")
    run = evaluate.run_eval(bench, specs, ids, torch.empty(0), torch.empty(0), done=done)
    return {s.name: row for s, row in zip(specs, run.scores)}


def accuracies(ids: list[int], data_dir) -> dict[str, np.ndarray]:
    return {ds: np.array([open_benchmark(f"nb201-{ds}", data_dir, studylib.SEED, "test_200ep", None).accuracy(a)
                          for a in ids]) for ds in studylib.DATASETS}


def graph(ids: list[int], data_dir) -> np.ndarray:
    bench = open_benchmark("nb201-cifar10", data_dir, studylib.SEED, "test_200ep", None)
    return learned.arch_matrix([bench.arch_features(a) for a in ids])


def learned_scores(model: str, x_train, y_train, x_test, seed: int, arch_train=None, arch_test=None) -> np.ndarray:
    spec = learned.LEARNED.get(model)
    if spec.uses_arch:
        x_train, x_test = np.hstack([x_train, arch_train]), np.hstack([x_test, arch_test])
    return learned.fit_predict(spec, seed, x_train, y_train, x_test)


def holdout_file(runs: Path) -> Path:
    return runs / f"holdout{HOLDOUT}-features.csv"


def holdout_features(runs: Path, ids: list[int], data_dir) -> np.ndarray:
    """Networks x FEATURES on the holdout (one file: the statistics are probed once per network)."""
    got = scores(";".join(HOLDOUT_PROXIES), holdout_file(runs), ids, data_dir)
    return np.column_stack([got[n] for n in FEATURES])


def train_names(runs: Path, seed: int) -> str:
    """What is scored on a search's labelled networks: the published proxies and its best formula."""
    return ";".join([*FEATURES, str(runs / f"evolved-s{seed}.json")])


def train_features(runs: Path, seed: int, ids: list[int], data_dir) -> np.ndarray:
    """Networks x (FEATURES, the seed's best formula) on its labelled networks."""
    got = scores(train_names(runs, seed), runs / f"train-s{seed}.csv", ids, data_dir)
    return np.column_stack([got[n] for n in (*FEATURES, f"evolved-s{seed}")])


def weighted_ensemble(x_train, y_train, x_test, names: list[str]) -> tuple[np.ndarray, str]:
    """Sum of log-ranks, each member weighted by how often forward selection with replacement chose it
    on the labelled networks (Spearman), over the published proxies and the evolved formula."""
    chosen = forward_select(np.asarray(x_train, float).T, [y_train], "spearman", "mean", ENSEMBLE_JOINS,
                            repeats=True)
    test = log_ranks(np.asarray(x_test, float).T, [len(x_test)])
    return test[list(chosen.members)].sum(axis=0), " + ".join(names[i] for i in chosen.members)


def rows_by_proxy(runs: Path, seeds: range, holdout: list[int], data_dir) -> dict[str, list[np.ndarray]]:
    """{row name: one score vector on the holdout per seed (one in all for a baseline)}."""
    out: dict[str, list[np.ndarray]] = {}
    x_test, arch_test = holdout_features(runs, holdout, data_dir), graph(holdout, data_dir)
    for seed in seeds:
        winners = ";".join(str(runs / f"{kind}-s{seed}.json") for kind in ("evolved", "ensemble"))
        for name, row in scores(winners, runs / f"holdout{HOLDOUT}-s{seed}.csv", holdout, data_dir).items():
            out.setdefault(name.rsplit("-", 1)[0], []).append(row)
        ids = train_ids(runs / f"seed-{seed}", data_dir)
        train, y_train = train_features(runs, seed, ids, data_dir), accuracies(ids, data_dir)["cifar10"]
        for model in MODELS:
            out.setdefault(model, []).append(learned_scores(model, train[:, :len(FEATURES)], y_train, x_test, seed,
                                                            graph(ids, data_dir), arch_test))
        pool_test = np.column_stack([x_test, out["evolved"][-1]])
        row, members = weighted_ensemble(train, y_train, pool_test, [*FEATURES, "evolved"])
        out.setdefault("weighted ensemble", []).append(row)
        print(f"seed {seed}: weighted ensemble = {members}", flush=True)
    published = scores(";".join(HOLDOUT_PROXIES), holdout_file(runs), holdout, data_dir)
    for name in BASELINES:
        path = runs / f"holdout{HOLDOUT}-baseline-{name}.csv"
        if name in published:
            out[name] = [published[name]]
        elif path.exists() and covers(path, name, holdout, data_dir):
            out[name] = [scores(name, path, holdout, data_dir)[name]]
        elif path.exists():
            print(f"{name}: {path} does not cover these {len(holdout)} networks yet; left out", flush=True)
    return out


def covers(path: Path, name: str, ids: list[int], data_dir) -> bool:
    bench = open_benchmark("nb201-cifar10", data_dir, studylib.SEED, "test_200ep", None)
    header = ["arch_id", "accuracy", *(s.name for s in evaluate.network_specs(evaluate.proxy_specs(name, bench)))]
    return len(evaluate.read_scores(str(path), header, set(ids))) == len(ids)


def mean_spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f}" + (f" ({np.ptp(values):.3f})" if len(values) > 1 else "")


def correlation_table(rows: dict, acc: dict) -> None:
    print("| proxy | " + " | ".join(f"{ds} tau | {ds} rho" for ds in studylib.DATASETS) + " |")
    print("|---" * (1 + 2 * len(studylib.DATASETS)) + "|")
    for name, runs_ in rows.items():
        cells = [mean_spread([f(rankable(r), acc[ds]) for r in runs_])
                 for ds in studylib.DATASETS for f in (kendall, spearman)]
        print(f"| {name} | " + " | ".join(cells) + " |")


def decision_table(rows: dict, acc: dict) -> None:
    n = min(CANDIDATES, len(acc["cifar10"]) // 2)
    print("\n| proxy | " + " | ".join(f"{ds} top-1 / top-10 of {n} (regret)" for ds in studylib.DATASETS)
          + " | cifar10 nDCG@10 |")
    print("|---" * (2 + len(studylib.DATASETS)) + "|")
    for name, runs_ in rows.items():
        cells = []
        for ds in studylib.DATASETS:
            picks = [[top_k_pick(r, acc[ds], k, n, DRAWS) for r in runs_] for k in (1, 10)]
            cells.append(" / ".join(f"{np.mean([p.accuracy for p in ps]):.2f}" for ps in picks)
                         + f" ({np.mean([p.regret for p in picks[1]]):.2f})")
        cells.append(mean_spread([ndcg_at_k(r, acc["cifar10"], 10) for r in runs_]))
        print(f"| {name} | " + " | ".join(cells) + " |")


def budget_curve(runs: Path, holdout: list[int], rows: dict, acc: dict, data_dir) -> None:
    """Learned models on ``n`` random networks of the holdout pool, tested on the rest (CIFAR-10 rho)."""
    x, arch, y = holdout_features(runs, holdout, data_dir), graph(holdout, data_dir), acc["cifar10"]
    print("\n| labelled networks | " + " | ".join(MODELS) + " |\n|---" * 1 + "|---" * len(MODELS) + "|")
    for n in [b for b in BUDGETS if b <= len(holdout) // 2]:
        cells = []
        for model in MODELS:
            rhos = []
            for split in range(SPLITS):
                order = np.random.default_rng(split).permutation(len(holdout))
                tr, te = order[:n], order[n:]
                pred = learned_scores(model, x[tr], y[tr], x[te], split, arch[tr], arch[te])
                rhos.append(spearman(pred, y[te]))
            cells.append(f"{np.mean(rhos):.3f} ({np.std(rhos):.3f})")
        print(f"| {n} | " + " | ".join(cells) + " |")
    for name in ("evolved", "ensemble"):
        if name in rows:
            print(f"| {name} (128 labels, searched) | " + mean_spread([spearman(rankable(r), y)
                                                                       for r in rows[name]]) + " |")


def run_all(runs: Path, config: str, seeds: range, data_dir) -> None:
    """The searches, their winners on the holdout, the published proxies on the holdout and on each
    search's labelled networks; everything resumable."""
    def score_holdout(names: str, save: Path) -> None:
        studylib.score(names, "nb201-cifar10", HOLDOUT, "holdout", save, seed=studylib.SEED,
                       batch_size=studylib.BATCH, data_dir=data_dir)
    score_holdout(";".join(HOLDOUT_PROXIES), holdout_file(runs))
    for seed in seeds:
        studylib.search(runs / f"seed-{seed}", f"seed {seed}", config, {"seed": seed}, data_dir)
        store, report = finished_report(str(runs / f"seed-{seed}"))
        store.close()
        files = [studylib.write_proxy(runs / f"{'evolved' if kind == 'best' else kind}-s{seed}.json",
                                      f"{'evolved' if kind == 'best' else kind}-s{seed}", formula)
                 for kind, formula in studylib.winners(report).items()]
        score_holdout(";".join(map(str, files)), runs / f"holdout{HOLDOUT}-s{seed}.csv")
        score_ids(train_names(runs, seed), train_ids(runs / f"seed-{seed}", data_dir), runs / f"train-s{seed}.csv",
                  data_dir)
    if "vkdnw" in PROXIES:
        score_holdout("vkdnw", runs / f"holdout{HOLDOUT}-baseline-vkdnw.csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/meco"), help="where the runs and score files go")
    ap.add_argument("--run", action="store_true", help="run (or continue) the searches and every scoring first")
    ap.add_argument("--config", default="experiments/nb201-meco.toml", help="the searches' config")
    ap.add_argument("--holdout-archs", type=int, default=HOLDOUT,
                    help=f"report on the first N of the {HOLDOUT} holdout networks (they are scored in that order, "
                         f"so a study cut short can be read on what it has; default {HOLDOUT})")
    studylib.add_seeds(ap)
    add_data_dir(ap)
    args = ap.parse_args()
    seeds = range(args.seeds)
    bench = open_benchmark("nb201-cifar10", args.data_dir, studylib.SEED, "test_200ep", None)
    if not 2 <= args.holdout_archs <= HOLDOUT:
        ap.error(f"--holdout-archs takes 2 ... {HOLDOUT}")
    holdout = bench.sample(HOLDOUT, "holdout", studylib.SEED)[:args.holdout_archs]
    if args.run:
        run_all(args.runs, args.config, seeds, args.data_dir)
    acc = accuracies(holdout, args.data_dir)
    rows = rows_by_proxy(args.runs, seeds, holdout, args.data_dir)
    correlation_table(rows, acc)
    decision_table(rows, acc)
    budget_curve(args.runs, holdout, rows, acc, args.data_dir)


if __name__ == "__main__":
    main()
