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
* the decision: accuracy of the best network among a proxy's top 1 / top 10 of 1,000 candidates drawn
  with replacement from the 1,000 (50 draws), its regret to the best of the draw, and nDCG@10 over the 1,000;
* the label budget: the learned models trained on 32 ... 512 random networks of the 1,000 and tested
  on the rest (20 splits each), beside the evolved rows (128 labels).

``--holdout-archs N`` reads the tables on the first N of the 1,000 (scored in that order).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata

import studylib
import evoproxy
from evoproxy.app import evaluate
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.cli.registry import add_data_dir
from evoproxy.evolve import learned
from evoproxy.evolve.config import from_dict
from evoproxy.evolve.ensemble import Ensemble, ensemble_program, forward_select, log_ranks
from evoproxy.evolve.splits import selection_ids
from evoproxy.evolve.store import RunStore
from evoproxy.lang.proxies import PROXIES
from evoproxy.lang.proxyfile import ProxySpec, read_proxy, write_proxy
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
TRANSFER, TRANSFER_SPACES = 200, ("nb101-cifar10", "nb301-cifar10")
TRANSFER_PROXIES = ";".join([*HOLDOUT_PROXIES, "evo_nb201", "evo_nb201_ensemble"])
"""The shipped NB201-evolved formula and ensemble meet NB101 and NB301 here, beside the forest."""
ENSEMBLE_JOINS, CANDIDATES = 32, 1000
LABELS, LABEL_ARMS = 128, (32, 64, 256)
"""The main arm's labelled networks (the config's 64 + 64) and the other arms of the label-budget curve."""


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


def scores(names: str, path: Path, ids: list[int], data_dir, benchmark: str = "nb201-cifar10") -> dict[str, np.ndarray]:
    """{proxy: its scores on ``ids``} from a saved file (set-level proxies ranked over ``ids``)."""
    bench = open_benchmark(benchmark, data_dir, studylib.SEED, "test_200ep", None)
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


def transfer_file(runs: Path, space: str) -> Path:
    return runs / f"transfer{TRANSFER}-{space}.csv"


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


def weighted_ensemble(x_train, targets: list[np.ndarray], x_test) -> tuple[np.ndarray, Ensemble]:
    """Sum of log-ranks, each member weighted by how often forward selection with replacement chose it
    on the labelled networks (mean Spearman over ``targets``, one accuracy column per dataset; it stops
    when no join raises that by MIN_GAIN, or at ENSEMBLE_JOINS), over the columns (the published
    proxies and the evolved formula)."""
    chosen = forward_select(np.tile(np.asarray(x_train, float).T, len(targets)), targets, "spearman", "mean",
                            ENSEMBLE_JOINS, repeats=True)
    test = log_ranks(np.asarray(x_test, float).T, [len(x_test)])
    return test[list(chosen.members)].sum(axis=0), chosen


def mean_rank(targets: list[np.ndarray]) -> np.ndarray:
    """Each network's accuracy rank (0 ... 1), averaged over the datasets: one label for three."""
    return np.mean([rankdata(t) / len(t) for t in targets], axis=0)


def evolved_rows(base: Path, seeds, holdout: list[int], data_dir) -> dict[str, list[np.ndarray]]:
    """{"evolved": [...], "ensemble": [...]}: each seed's winners (in ``base``) on the holdout."""
    out: dict[str, list[np.ndarray]] = {}
    for seed in seeds:
        winners = ";".join(str(base / f"{kind}-s{seed}.json") for kind in ("evolved", "ensemble"))
        for name, row in scores(winners, base / f"holdout{HOLDOUT}-s{seed}.csv", holdout, data_dir).items():
            out.setdefault(name.rsplit("-", 1)[0], []).append(row)
    return out


def label_arm(runs: Path, labels: int) -> Path:
    """Where the searches with ``labels`` labelled networks go (the main arm, 128, is ``runs`` itself)."""
    return runs if labels == LABELS else runs / f"labels-{labels}"


def write_weighted(runs: Path, seed: int, chosen: Ensemble, name: str = "weighted", labels: str = "CIFAR-10") -> None:
    """The seed's weighted ensemble (chosen over FEATURES and its evolved formula) as one formula,
    ``runs/NAME-sSEED.json`` (with its labelled networks' Spearman), for ``evoproxy eval --proxy``."""
    programs = [*(PROXIES.get(n).program for n in FEATURES), read_proxy(runs / f"evolved-s{seed}.json").program]
    spec = ProxySpec(f"{name}-s{seed}", ensemble_program([programs[i] for i in chosen.members]))
    write_proxy(runs / f"{name}-s{seed}.json", spec, provenance={
        "built_by": "experiments/learned_study.py (forward selection with replacement over the nine published "
                    f"proxies and evolved-s{seed}, Spearman with {labels} accuracy on the search's 128 labelled "
                    "networks)",
        "labelled_spearman": chosen.fitness, "members": [programs[i].text for i in chosen.members]})


def rows_by_proxy(runs: Path, seeds: range, holdout: list[int], data_dir) -> dict[str, list[np.ndarray]]:
    """{row name: one score vector on the holdout per seed (one in all for a baseline)}."""
    out: dict[str, list[np.ndarray]] = {}
    x_test, arch_test = holdout_features(runs, holdout, data_dir), graph(holdout, data_dir)
    out.update(evolved_rows(runs, seeds, holdout, data_dir))
    for seed in seeds:
        ids = train_ids(runs / f"seed-{seed}", data_dir)
        train, accs = train_features(runs, seed, ids, data_dir), accuracies(ids, data_dir)
        y_train, y3 = accs["cifar10"], [accs[ds] for ds in studylib.DATASETS]
        for model in MODELS:
            out.setdefault(model, []).append(learned_scores(model, train[:, :len(FEATURES)], y_train, x_test, seed,
                                                            graph(ids, data_dir), arch_test))
        pool_test = np.column_stack([x_test, out["evolved"][-1]])
        out.setdefault("random_forest + evolved", []).append(learned_scores("random_forest", train, y_train,
                                                                            pool_test, seed))
        row, chosen = weighted_ensemble(train, [y_train], pool_test)
        out.setdefault("weighted ensemble", []).append(row)
        write_weighted(runs, seed, chosen)
        row3, chosen3 = weighted_ensemble(train, y3, pool_test)
        out.setdefault("weighted ensemble (3-dataset labels)", []).append(row3)
        write_weighted(runs, seed, chosen3, "weighted3", "the mean over CIFAR-10, CIFAR-100 and ImageNet16-120 of")
        out.setdefault("random forest (3-dataset labels)", []).append(learned_scores(
            "random_forest", train[:, :len(FEATURES)], mean_rank(y3), x_test, seed))
        names = [*FEATURES, "evolved"]
        for label, ens in (("weighted ensemble", chosen), ("3-dataset", chosen3)):
            print(f"seed {seed}: {label} = {' + '.join(names[i] for i in ens.members)}", flush=True)
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


def covers_arm(runs: Path, labels: int, seed: int, ids: list[int], data_dir) -> bool:
    """Whether the ``labels`` arm's seed has its winners scored on ``ids``."""
    base = label_arm(runs, labels)
    names = ";".join(str(base / f"{kind}-s{seed}.json") for kind in ("evolved", "ensemble"))
    return (base / f"holdout{HOLDOUT}-s{seed}.csv").exists() and covers(base / f"holdout{HOLDOUT}-s{seed}.csv",
                                                                          names, ids, data_dir)


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
    """Top-1 / top-10 of CANDIDATES networks drawn with replacement from the holdout (so 1,000 of 1,000
    differ between draws), mean over DRAWS draws."""
    n = CANDIDATES
    print("\n| proxy | " + " | ".join(f"{ds} top-1 / top-10 of {n} (regret)" for ds in studylib.DATASETS)
          + " | cifar10 nDCG@10 |")
    print("|---" * (2 + len(studylib.DATASETS)) + "|")
    for name, runs_ in rows.items():
        cells = []
        for ds in studylib.DATASETS:
            picks = [[top_k_pick(r, acc[ds], k, n, DRAWS, replace=True) for r in runs_] for k in (1, 10)]
            cells.append(" / ".join(f"{np.mean([p.accuracy for p in ps]):.2f}" for ps in picks)
                         + f" ({np.mean([p.regret for p in picks[1]]):.2f})")
        cells.append(mean_spread([ndcg_at_k(r, acc["cifar10"], 10) for r in runs_]))
        print(f"| {name} | " + " | ".join(cells) + " |")


def budget_curve(runs: Path, holdout: list[int], rows: dict, acc: dict, data_dir) -> None:
    """Learned models, and the weighted ensemble of the nine proxies (one formula), on ``n`` random
    networks of the holdout pool, tested on the rest (CIFAR-10 rho)."""
    x, arch, y = holdout_features(runs, holdout, data_dir), graph(holdout, data_dir), acc["cifar10"]
    columns = [*MODELS, "weighted ensemble"]
    print("\n| labelled networks | " + " | ".join(columns) + " |\n|---" + "|---" * len(columns) + "|")
    for n in [b for b in BUDGETS if b <= len(holdout) // 2]:
        rhos: dict[str, list[float]] = {c: [] for c in columns}
        for split in range(SPLITS):
            order = np.random.default_rng(split).permutation(len(holdout))
            tr, te = order[:n], order[n:]
            for model in MODELS:
                pred = learned_scores(model, x[tr], y[tr], x[te], split, arch[tr], arch[te])
                rhos[model].append(spearman(pred, y[te]))
            rhos["weighted ensemble"].append(spearman(weighted_ensemble(x[tr], [y[tr]], x[te])[0],
                                                      y[te]))
        print(f"| {n} | " + " | ".join(f"{np.mean(r):.3f} ({np.std(r):.3f})" for r in rhos.values()) + " |")
    arms = {LABELS: rows}
    for labels in LABEL_ARMS:
        done = [s for s in range(len(rows.get("evolved", []))) if covers_arm(runs, labels, s, holdout, data_dir)]
        if done:
            arms[labels] = evolved_rows(label_arm(runs, labels), done, holdout, data_dir)
    for labels, arm in sorted(arms.items()):
        for name in ("evolved", "ensemble", "weighted ensemble"):
            if name in arm:
                print(f"| {name} ({labels} labels, {len(arm[name])} searches) | "
                      + mean_spread([spearman(rankable(r), y) for r in arm[name]]) + " |")


def transfer_table(runs: Path, seeds: range, data_dir, n: int = TRANSFER) -> None:
    """The NB201-trained models (each seed's labelled networks) applied unchanged to NB101 / NB301 holdout
    networks, beside the shipped NB201-evolved formula and ensemble and the published proxies."""
    print("\n| proxy | " + " | ".join(f"{sp} tau | {sp} rho" for sp in TRANSFER_SPACES) + " |")
    print("|---" * (1 + 2 * len(TRANSFER_SPACES)) + "|")
    rows: dict[str, list[list[str]]] = {}
    for space in TRANSFER_SPACES:
        bench = open_benchmark(space, data_dir, studylib.SEED, "test_200ep", None)
        ids = bench.sample(TRANSFER, "holdout", studylib.SEED)[:n]
        acc = np.array([bench.accuracy(a) for a in ids])
        got = scores(TRANSFER_PROXIES, transfer_file(runs, space), ids, data_dir, space)
        x_test = np.column_stack([got[n] for n in FEATURES])
        per_row = {name: [got[name]] for name in ("evo_nb201", "evo_nb201_ensemble", *BASELINES) if name in got}
        for seed in seeds:
            ids201 = train_ids(runs / f"seed-{seed}", data_dir)
            train = train_features(runs, seed, ids201, data_dir)[:, :len(FEATURES)]
            y = accuracies(ids201, data_dir)["cifar10"]
            for model in ("random_forest", "boosted"):
                per_row.setdefault(f"{model} (NB201 labels)", []).append(learned_scores(model, train, y, x_test, seed))
        for name, runs_ in per_row.items():
            rows.setdefault(name, []).append([mean_spread([f(rankable(r), acc) for r in runs_])
                                              for f in (kendall, spearman)])
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(c for pair in cells for c in pair) + " |")


def run_published(runs: Path, data_dir) -> None:
    """The published proxies (and VKDNW) on the NB201 holdout, and on the transfer networks."""
    score_holdout(";".join(HOLDOUT_PROXIES), holdout_file(runs), data_dir)
    score_holdout("vkdnw", runs / f"holdout{HOLDOUT}-baseline-vkdnw.csv", data_dir)
    for space in TRANSFER_SPACES:
        studylib.score(TRANSFER_PROXIES, space, TRANSFER, "holdout", transfer_file(runs, space), seed=studylib.SEED,
                       batch_size=studylib.BATCH, data_dir=data_dir)


def run_seed(runs: Path, config: str, seed: int, data_dir, labels: int = LABELS) -> None:
    """One search with ``labels`` labelled networks (half search, half selection), its winners on the
    holdout; in the main arm also the published proxies on its labelled networks."""
    base = label_arm(runs, labels)
    base.mkdir(parents=True, exist_ok=True)
    studylib.search(base / f"seed-{seed}", f"seed {seed} ({labels} labels)", config,
                    {"seed": seed, "search_archs": labels // 2, "selection_archs": labels // 2}, data_dir)
    files = [studylib.write_proxy(base / f"{'evolved' if kind == 'best' else kind}-s{seed}.json",
                                  f"{'evolved' if kind == 'best' else kind}-s{seed}", formula)
             for kind, formula in studylib.winners(evoproxy.load_result(base / f"seed-{seed}")).items()]
    score_holdout(";".join(map(str, files)), base / f"holdout{HOLDOUT}-s{seed}.csv", data_dir)
    if labels == LABELS:
        score_ids(train_names(runs, seed), train_ids(runs / f"seed-{seed}", data_dir), runs / f"train-s{seed}.csv",
                  data_dir)


def score_holdout(names: str, save: Path, data_dir) -> None:
    studylib.score(names, "nb201-cifar10", HOLDOUT, "holdout", save, seed=studylib.SEED, batch_size=studylib.BATCH,
                   data_dir=data_dir)


def run_parts(what: str, runs: Path, config: str, seeds: range, data_dir, labels: int) -> None:
    """``all`` (everything, in order), ``published`` or one seed's number (with ``labels`` labelled
    networks); each part resumable, so two processes may run different parts side by side."""
    if what in ("all", "published"):
        run_published(runs, data_dir)
    if what == "all":
        for arm in (LABELS, *LABEL_ARMS):
            for seed in seeds:
                run_seed(runs, config, seed, data_dir, arm)
    elif what.isdigit():
        run_seed(runs, config, int(what), data_dir, labels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/meco"), help="where the runs and score files go")
    ap.add_argument("--run", nargs="?", const="all", metavar="PART",
                    help="run (or continue) the searches and every scoring first: all of it (no value), 'published' "
                         "(the published proxies on the holdout and the transfer networks) or one seed's number (its "
                         "search and scorings), so two processes can share the work")
    ap.add_argument("--config", default="experiments/nb201-meco.toml", help="the searches' config")
    ap.add_argument("--holdout-archs", type=int, default=HOLDOUT,
                    help=f"report on the first N of the {HOLDOUT} holdout networks (they are scored in that order, "
                         f"so a study cut short can be read on what it has; default {HOLDOUT})")
    ap.add_argument("--transfer-archs", type=int, default=TRANSFER,
                    help=f"the NB101 / NB301 transfer table on the first N of its {TRANSFER} networks per space "
                         f"(scored in that order; default {TRANSFER})")
    ap.add_argument("--labels", type=int, default=LABELS, choices=(LABELS, *LABEL_ARMS),
                    help=f"with --run SEED: that seed's search with this many labelled networks (default {LABELS}; "
                         f"the other arms are the label-budget curve's)")
    studylib.add_seeds(ap)
    add_data_dir(ap)
    args = ap.parse_args()
    seeds = range(args.seeds)
    bench = open_benchmark("nb201-cifar10", args.data_dir, studylib.SEED, "test_200ep", None)
    if not 2 <= args.holdout_archs <= HOLDOUT:
        ap.error(f"--holdout-archs takes 2 ... {HOLDOUT}")
    holdout = bench.sample(HOLDOUT, "holdout", studylib.SEED)[:args.holdout_archs]
    if args.run:
        if not (args.run in ("all", "published") or args.run.isdigit()):
            ap.error(f"--run takes nothing, 'published' or a seed number, not {args.run!r}")
        run_parts(args.run, args.runs, args.config, seeds, args.data_dir, args.labels)
        if args.run != "all":
            return  # one part of several: the tables wait for the rest
    acc = accuracies(holdout, args.data_dir)
    rows = rows_by_proxy(args.runs, seeds, holdout, args.data_dir)
    correlation_table(rows, acc)
    decision_table(rows, acc)
    budget_curve(args.runs, holdout, rows, acc, args.data_dir)
    if all(transfer_file(args.runs, space).exists() for space in TRANSFER_SPACES):
        transfer_table(args.runs, seeds, args.data_dir, args.transfer_archs)


if __name__ == "__main__":
    main()
