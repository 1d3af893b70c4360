"""The search-quality study: three seeds of ``experiments/nb201-30min.toml``; each seed's best single
formula (its hall of fame's first, chosen on the selection split) and its evolved ensemble are
scored on the 500 final-holdout architectures of the state-of-the-art table, beside every proxy of
that table on the same networks, probe batch (32 CIFAR-10 images) and init; ``--holdout-archs
1000`` scores them on another, larger sample of the holdout split instead.

    python experiments/sota_table.py --run     # once (about 2 h): every proxy on the table's architectures
    python experiments/search_study.py --run   # the three searches (resumable), then their winners' scores
    python experiments/search_study.py         # print from what is saved
    python experiments/search_study.py --config experiments/nb201-meco.toml --runs runs/meco --run

Without the state-of-the-art table's scores (or with ``--holdout-archs`` other than 500), the
baselines (``--baselines``: the config's own by default, ``sota`` for every proxy of the table) are
scored on the same architectures, each into its own file (``RUNS/holdout[N]-baseline-NAME.csv``,
kept and reused), so the evolved rows still stand beside them.

The searches never see these architectures: they search and select on the search split and the
table's 500 come from the holdout split. Set-level proxies are ranked over the 500. Prints one row
per proxy (Kendall tau / Spearman rho against CIFAR-10, CIFAR-100 and ImageNet16-120 accuracy of
the CIFAR-10 network's scores); evolved rows give the mean and, in brackets, the spread (max - min)
over the seeds.
"""
from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

import numpy as np

import studylib
import evoproxy
from evoproxy.app import evaluate
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.cli.registry import add_data_dir

TABLE = Path(__file__).parent / "sota_table" / "holdout.csv"
TABLE_ARCHS = 500
DATASETS = studylib.DATASETS
BASELINES = ("aznas", "meco", "gradsign", "swap", "zico", "nwot", "synflow", "jacov", "epe_nas", "tenas", "params")


def run_searches(config: str, runs: Path, seeds: range, data_dir: str | None) -> None:
    for seed in seeds:
        studylib.search(runs / f"seed-{seed}", f"seed {seed}", config, {"seed": seed}, data_dir)


def winner_files(runs: Path, seeds: range) -> list[Path]:
    """Each seed's best formula and ensemble as proxy files named evolved-sN / ensemble-sN."""
    files = []
    for seed in seeds:
        for kind, formula in studylib.winners(evoproxy.load_result(runs / f"seed-{seed}")).items():
            name = f"{'evolved' if kind == 'best' else kind}-s{seed}"
            files.append(studylib.write_proxy(runs / f"{name}.json", name, formula))
    return files


def holdout_file(runs: Path, what: str, n: int) -> Path:
    """Where ``what``'s (``sN`` or ``baseline-NAME``) scores on ``n`` holdout architectures go:
    holdout-sN.csv for the table's 500."""
    return runs / (f"holdout-{what}.csv" if n == TABLE_ARCHS else f"holdout{n}-{what}.csv")


def seed_files(files: list[Path], seed: int) -> list[Path]:
    return [f for f in files if f.stem.endswith(f"-s{seed}")]


def score_holdout(proxies: str, save: Path, n: int, data_dir: str | None) -> None:
    """``proxies`` on ``n`` holdout architectures into ``save`` (continued if cut)."""
    studylib.score(proxies, "nb201-cifar10", n, "holdout", save, seed=studylib.SEED, batch_size=studylib.BATCH,
                   data_dir=data_dir)


def correlations(spec_text: str, path: Path, n: int, data_dir) -> dict:
    """{proxy: {dataset: (tau, rho)}} over the ``n`` holdout architectures saved in ``path``."""
    bench = open_benchmark("nb201-cifar10", data_dir, studylib.SEED, "test_200ep", None)
    specs = evaluate.proxy_specs(spec_text, bench)
    archs = bench.sample(n, "holdout", studylib.SEED)
    done = studylib.saved_scores(path, specs, archs, "see this script's --help")
    out: dict = {}
    for ds, results in studylib.per_dataset(specs, archs, done, data_dir).items():
        for proxy, figures in results.items():
            out.setdefault(proxy, {})[ds] = figures
    return out


def baseline_names(choice: str | None, config: str) -> list[str]:
    """The proxies ``--baselines`` names: the config's ``baselines`` (None), the table's (sota) or a ;-list."""
    if choice is None:
        return list(tomllib.loads(Path(config).read_text()).get("baselines", ()))
    return list(BASELINES) if choice == "sota" else [n for n in choice.split(";") if n]


def baseline_scores(names: list[str], runs: Path, n: int, score: bool, data_dir) -> dict:
    """{proxy: {dataset: (tau, rho)}} of each baseline on ``n`` holdout architectures, scored first
    into its own file when ``score``."""
    out = {}
    for name in names:
        path = holdout_file(runs, f"baseline-{name}", n)
        if score:
            score_holdout(name, path, n, data_dir)
        out.update(correlations(name, path, n, data_dir))
    return out


def print_table(evolved: dict, baselines: dict) -> None:
    print("| proxy | " + " | ".join(f"{ds} tau | {ds} rho" for ds in DATASETS) + " |")
    print("|---" * (1 + 2 * len(DATASETS)) + "|")
    for kind in ("ensemble", "evolved"):
        rows = [v for k, v in evolved.items() if k.startswith(kind)]
        if not rows:
            continue
        cells = []
        for ds in DATASETS:
            for m in (0, 1):
                vals = [r[ds][m] for r in rows]
                cells.append(f"{np.mean(vals):.3f} ({np.ptp(vals):.3f})")
        print(f"| **{kind}** (mean of {len(rows)} seeds) | " + " | ".join(cells) + " |")
    for name in sorted(baselines, key=lambda n: BASELINES.index(n) if n in BASELINES else len(BASELINES)):
        print(f"| {name} | " + " | ".join(f"{baselines[name][ds][m]:.3f}" for ds in DATASETS for m in (0, 1)) + " |")
    for name, row in evolved.items():
        print(f"| {name} | " + " | ".join(f"{row[ds][m]:.3f}" for ds in DATASETS for m in (0, 1)) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="run (or continue) the searches and score their winners")
    ap.add_argument("--config", default="experiments/nb201-30min.toml", help="the searches' config")
    ap.add_argument("--runs", type=Path, default=Path("runs/study"), help="where the seeds' runs go (RUNS/seed-N)")
    studylib.add_seeds(ap)
    ap.add_argument("--holdout-archs", type=int, default=TABLE_ARCHS,
                    help="how many final-holdout architectures (default 500: the state-of-the-art table's)")
    ap.add_argument("--baselines", help="the proxies beside the evolved rows when the state-of-the-art table is "
                    "not used: a ;-list of proxy names, or sota for the table's (default: the config's baselines)")
    add_data_dir(ap)
    args = ap.parse_args()
    seeds, n, runs = range(args.seeds), args.holdout_archs, args.runs
    table = TABLE if TABLE.exists() and n == TABLE_ARCHS else None
    if args.run:
        run_searches(args.config, runs, seeds, args.data_dir)
    files = winner_files(runs, seeds)
    if args.run:
        for seed in seeds:
            score_holdout(";".join(map(str, seed_files(files, seed))), holdout_file(runs, f"s{seed}", n), n,
                          args.data_dir)
    evolved = {k: v for seed in seeds for k, v in correlations(
        ";".join(map(str, seed_files(files, seed))), holdout_file(runs, f"s{seed}", n), n, args.data_dir).items()}
    baselines = correlations("all", table, n, args.data_dir) if table else \
        baseline_scores(baseline_names(args.baselines, args.config), runs, n, args.run, args.data_dir)
    print_table(evolved, baselines)
    for seed in seeds:
        result = evoproxy.load_result(runs / f"seed-{seed}")
        print(f"seed {seed}: best {result.best.formula}\n        ensemble "
              f"{result.ensemble.formula if result.ensemble else None}")


if __name__ == "__main__":
    main()
