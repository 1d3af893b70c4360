"""What the study scripts share, all through evoproxy's Python API (no ``python -m evoproxy``):
their searches, their winners written as proxy files, scoring architectures into ``eval --save``
files, and correlating saved scores with the accuracies of every NAS-Bench-201 dataset.

A study script imports it as ``import studylib``: run as ``python experiments/NAME.py``, the
script's own folder is the first entry of ``sys.path``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

import evoproxy
from evoproxy.app import evaluate
from evoproxy.app.benchmarks import open_benchmark
from evoproxy.app.runs import is_finished
from evoproxy.lang.program import parse
from evoproxy.lang.proxyfile import ProxySpec, proxy_document

DATASETS = ("cifar10", "cifar100", "imagenet16")
"""The NB201 datasets a CIFAR-10 network's scores are correlated with (the same cells on each)."""
SEED, BATCH = 0, 32
"""The state-of-the-art table's setting: sample, probe batch (32 CIFAR-10 images) and init seed 0."""


def add_seeds(ap: argparse.ArgumentParser, default: int = 3) -> None:
    ap.add_argument("--seeds", type=int, default=default, help=f"how many seeds (0, 1, ...; default {default})")


def search(out: Path, label: str, config: str, overrides: dict[str, Any], data_dir: Optional[str] = None) -> None:
    """A study's search into ``out``: nothing when it is finished (a run its time budget ended stays
    ended), continued when it was started, else a new run of ``config`` with ``overrides``;
    ``data_dir`` either way."""
    if is_finished(str(out)):
        return
    execution = {"data_dir": data_dir} if data_dir else {}
    if (Path(out) / "run.sqlite").exists():
        print(f"{label}: continuing {out}", file=sys.stderr, flush=True)
        evoproxy.search(resume=out, **execution)
    else:
        print(f"{label}: searching {config} into {out}", file=sys.stderr, flush=True)
        evoproxy.search(config, out=out, **overrides, **execution)


def winners(result: evoproxy.SearchResult) -> dict[str, str]:
    """A finished search's ``best`` formula (its hall of fame's first) and its ``ensemble``'s, if any."""
    out = {"best": result.best.formula}
    if result.ensemble:
        out["ensemble"] = result.ensemble.formula
    return out


def write_proxy(path: Path, name: str, formula: str) -> Path:
    """``formula`` as the proxy file ``path`` (named ``name``), for ``eval``'s proxy list."""
    path.write_text(json.dumps(proxy_document(ProxySpec(name, parse(formula))), indent=2))
    return path


def score(proxies: str, benchmark: str, archs: int | str, split: str, save: Path, **options: Any) -> None:
    """``proxies`` (``;``-joined) on ``archs`` architectures of ``split`` into the CSV ``save``, as
    ``evoproxy eval --save`` does (an interrupted file is continued); ``options``: ``plan_eval``'s."""
    plan = evaluate.plan_eval(proxies, benchmark, str(archs), split, save=str(save), **options)
    print(f"{benchmark} {split}: {len(plan.archs) - len(plan.done)} of {len(plan.archs)} networks to score "
          f"into {save}", file=sys.stderr, flush=True)
    plan.run()


def saved_scores(path: Path, specs: Sequence[ProxySpec], archs: Sequence[int], hint: str) -> dict:
    """{arch: per-network scores} of every one of ``archs`` in the ``eval --save`` file ``path``;
    exits with ``hint`` when some are missing."""
    header = ["arch_id", "accuracy", *(s.name for s in evaluate.network_specs(specs))]
    done = evaluate.read_scores(str(path), header, set(archs))
    if len(done) < len(archs):
        sys.exit(f"{path}: {len(done)} of {len(archs)} architectures scored; {hint}")
    return done


def per_dataset(specs: Sequence[ProxySpec], archs: Sequence[int], done: dict,
                data_dir: Optional[str]) -> dict[str, dict[str, tuple[float, float]]]:
    """{dataset: {proxy: (tau, rho)}} of the NB201 CIFAR-10 networks' saved scores against each
    dataset's accuracies; set-level proxies ranked over all ``archs``."""
    out = {}
    for ds in DATASETS:
        bench = open_benchmark(f"nb201-{ds}", data_dir, SEED, "test_200ep", None)
        run = evaluate.run_eval(bench, specs, archs, torch.empty(0), torch.empty(0), done=done)
        out[ds] = {r.proxy: (r.kendall, r.spearman) for r in run.results}
    return out
