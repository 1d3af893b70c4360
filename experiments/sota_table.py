"""The state-of-the-art table (experiments/results/sota-table.md): every NAS proxy on the same 1,000 random NAS-Bench-201
architectures, Kendall tau and Spearman rho against their CIFAR-10, CIFAR-100 and ImageNet16-120
test accuracy (200 epochs), beside the figure each paper publishes, and seconds per network.

    python experiments/sota_table.py --run          # score (or continue scoring), then print
    python experiments/sota_table.py                # print from the saved scores
    python experiments/sota_table.py --timing 20    # also: seconds per network, each proxy alone

Setting: the architectures are 500 drawn from the search split and 500 from the holdout split of
NB201 with seed 0 (together a random set of 1,000); one probe batch of 32 CIFAR-10 training images
and the CIFAR-10 network (10 classes) with init seed 0 for every architecture and every proxy, so
each proxy is scored once per architecture and correlated with all three datasets' accuracies (no
ImageNet16-120 images are available here). Scoring runs as two processes, one per core and split,
each writing its own ``evoproxy eval --save`` file (an interrupted run continues its files); set-level
proxies (aznas, tenas) are ranked over all 1,000 when the table is made.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

import studylib
from evoproxy.app import evaluate
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.cli.registry import add_data_dir
from evoproxy.data.images import load_probe_batch
from evoproxy.errors import EvoproxyError
from evoproxy.scoring.score import score_matrix

OUT = Path(__file__).parent / "sota_table"
SPLITS, PER_SPLIT, SEED, BATCH = ("search", "holdout"), 500, studylib.SEED, studylib.BATCH
DATASETS = studylib.DATASETS
PUBLISHED = {
    # proxy: ({dataset: (tau or None, rho)}, where read)
    "aznas": ({"cifar10": (0.712, 0.892), "cifar100": (0.696, 0.880), "imagenet16": (0.673, 0.859)},
              "VKDNW (Tybl & Neumann, CVPR 2025) Table 1: AZ-NAS reproduced with its authors' code, mean of 5 runs"),
    "tenas": ({"cifar10": (0.536, 0.722), "cifar100": (0.537, 0.723), "imagenet16": (0.523, 0.709)},
              "VKDNW Table 1: TE-NAS reproduced with its authors' code, mean of 5 runs"),
    "gradsign": ({"cifar10": (None, 0.765), "cifar100": (None, 0.793), "imagenet16": (None, 0.783)},
                 "VKDNW Table 1, quoting the GradSign paper"),
    "meco": ({"cifar10": (None, 0.89)}, "MeCo abstract (NeurIPS 2023): 'correlation' 0.89 on NATS-Bench-TSS CIFAR-10"),
    "nwot": ({"cifar100": (None, 0.80)}, "SWAP abstract (ICLR 2024): NWOT, Spearman vs CIFAR-100 validation accuracy"),
}
SUITE_ZERO = {"synflow", "nwot", "jacov", "snip", "grad_norm", "grasp", "fisher", "epe_nas", "l2_norm", "plain",
              "params", "flops"}


def score_split(split: str, data_dir: str | None) -> None:
    """Every proxy on the split's architectures, one thread, into OUT/SPLIT.csv (continued if cut)."""
    torch.set_num_threads(1)
    studylib.score("all", "nb201-cifar10", PER_SPLIT, split, OUT / f"{split}.csv", seed=SEED, batch_size=BATCH,
                   data_dir=data_dir)


def run_scores(data_dir: str | None) -> None:
    """Both splits at once, a process of one thread each; each continues its --save file."""
    OUT.mkdir(exist_ok=True)
    with ProcessPoolExecutor(len(SPLITS), mp_context=multiprocessing.get_context("spawn")) as pool:
        jobs = [pool.submit(score_split, split, data_dir) for split in SPLITS]
        try:
            for job in jobs:
                job.result()
        except EvoproxyError as err:
            sys.exit(f"scoring failed: {err}; run again to continue")


def saved_scores(bench, specs):
    """The 1,000 architectures and their saved per-network scores, split by split."""
    archs, done = [], {}
    for split in SPLITS:
        ids = bench.sample(PER_SPLIT, split, SEED)
        done.update(studylib.saved_scores(OUT / f"{split}.csv", specs, ids,
                                          f"continue with `python {sys.argv[0]} --run`"))
        archs += ids
    return archs, done


def seconds_per_network(bench, specs, archs, n: int, data_dir) -> dict:
    """Each proxy alone on ``n`` architectures, one thread: mean seconds per network."""
    torch.set_num_threads(1)
    batch = load_probe_batch("auto", BATCH, SEED, data_dir, bench.image_set)
    out = {}
    for s in specs:
        start = time.perf_counter()
        score_matrix(bench, [s.program], archs[:n], batch.x, batch.y, SEED)
        out[s.name] = (time.perf_counter() - start) / n
        print(f"  timed {s.name}: {out[s.name]:.2f} s/net", file=sys.stderr)
    return out


def suite_zero_reference(data_dir) -> dict:
    from evoproxy.benchmarks.suite_zero import reference_spearman
    try:
        return {ds: reference_spearman(ds, data_dir, against="test_200ep") for ds in DATASETS}
    except Exception as err:  # noqa: BLE001  (no Suite-Zero file: the column stays empty)
        print(f"no Suite-Zero reference ({err})", file=sys.stderr)
        return {}


def published(name: str, ds: str, reference: dict):
    """(rho, source tag) published for ``name`` on ``ds``, or None."""
    if name in PUBLISHED and ds in PUBLISHED[name][0]:
        return PUBLISHED[name][0][ds][1], name
    if name in SUITE_ZERO and reference.get(ds, {}).get(name) is not None:
        return reference[ds][name], "suite-zero"
    return None


def print_table(specs, corr, reference, timing) -> None:
    cols = [f"{ds} {m}" for ds in DATASETS for m in ("tau", "rho")]
    print("| proxy | " + " | ".join(cols) + " | published rho (C10 / C100 / IN16) | gap | s/net |")
    print("|---" * (len(cols) + 4) + "|")
    for s in specs:
        cells = [f"{corr[ds][s.name][k]:.3f}" for ds in DATASETS for k in (0, 1)]
        pub = [published(s.name, ds, reference) for ds in DATASETS]
        shown = " / ".join(f"{p[0]:.3f}" if p else "–" for p in pub)
        gaps = " / ".join(f"{corr[ds][s.name][1] - p[0]:+.3f}" if p else "–" for ds, p in zip(DATASETS, pub))
        secs = f"{timing[s.name]:.2f}" if s.name in timing else "–"
        print(f"| {s.name} | " + " | ".join(cells) + f" | {shown} | {gaps} | {secs} |")
    print("\nPublished: suite-zero = NAS-Bench-Suite-Zero's reference values on its 725 architectures "
          "(computed from nb201_zc_proxies_725x3_naslib.csv, 200-epoch test accuracy);")
    for name, (_, where) in PUBLISHED.items():
        print(f"  {name}: {where}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", action="store_true", help="score the architectures first (continues saved files)")
    ap.add_argument("--timing", type=int, default=0, metavar="N", help="also time each proxy on N architectures")
    add_data_dir(ap)
    args = ap.parse_args()
    if args.run:
        run_scores(args.data_dir)
    bench = open_benchmark("nb201-cifar10", args.data_dir, SEED, "test_200ep", None)
    specs = evaluate.proxy_specs("all", bench)
    archs, done = saved_scores(bench, specs)
    corr = studylib.per_dataset(specs, archs, done, args.data_dir)
    timing = seconds_per_network(bench, specs, archs, args.timing, args.data_dir) if args.timing else {}
    print_table(specs, corr, suite_zero_reference(args.data_dir), timing)


if __name__ == "__main__":
    main()
