"""``evoproxy search`` and ``evoproxy export``: thin commands over :mod:`evoproxy.app.search`."""
from __future__ import annotations

import argparse
import resource
import sys
from pathlib import Path

from tqdm import tqdm

from evoproxy.app import exports, search
from evoproxy.app.catalog import names
from evoproxy.cli.registry import CommandGroup, add_data_dir, at_least, fmt_holdout, positive_number, register_commands
from evoproxy.errors import EvoproxyError

OVERRIDES = ("generations", "population", "seed", "backend", "workers", "ray_address", "data_dir", "teacher",
             "max_minutes", "init_from")


def cmd_search(args: argparse.Namespace) -> int:
    given = {k: getattr(args, k) for k in OVERRIDES if getattr(args, k) is not None}
    if args.benchmark:
        given["benchmarks"] = tuple(args.benchmark.split(","))
    if args.plugin:  # a file by its absolute path: the stored config resumes from anywhere
        given["plugins"] = tuple(str(Path(p).resolve()) if p.endswith(".py") else p for p in args.plugin)
    run = search.prepare_run(args.out, args.resume, given, args.set or [], args.config)
    if run.finished is not None:
        run.close()
        print(f"{run.store.run_dir} is finished ({run.config.evolution.generations} generations); nothing to continue "
              "(pass a larger --generations to go on); its report:", file=sys.stderr)
        _print_report(run.finished, run.config.evolution.combine)
        return 0
    for name, label in run.sources["benchmarks"].items():
        print(f"benchmark: {label}\nprobe: {run.sources['probe'][name]}", file=sys.stderr)
    last = run.store.last_generation()
    bar = tqdm(total=run.config.evolution.generations + 1, initial=0 if last is None else last + 1,
               desc="generation", unit="gen", file=sys.stderr, disable=args.quiet)
    failed = True
    try:
        result = search.run_search(run.config, run.store, on_generation=lambda s: _progress(bar, s),
                                   benchmarks=run.benchmarks, on_progress=StepBars(args.quiet))
        failed = False
    except KeyboardInterrupt:   # one line and exit 130, as for any interrupted command
        if run.store.last_generation() is None and not run.resuming:
            print("evoproxy: interrupted before generation 0 was committed; nothing was kept", file=sys.stderr)
        else:
            print(f"evoproxy: interrupted; nothing committed is lost: evoproxy search --resume {run.store.run_dir}",
                  file=sys.stderr)
        return 130
    finally:
        bar.close()
        run.close(failed)
    _print_report(result, run.config.evolution.combine)
    print(f"peak memory: {peak_rss_mb():,.0f} MB resident (this process; Ray's workers are counted by Ray)")
    return 0


def peak_rss_mb() -> float:
    """The largest resident set of this process (or of a child it waited for), in MiB."""
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) \
        * scale / 2**20


class StepBars:
    """One progress bar per named step (probing, the final report), closed when it completes."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bars = quiet, {}

    def __call__(self, name: str, done: int, total: int, what: str = "") -> None:
        bar = self.bars.get(name)
        if bar is None:
            bar = self.bars[name] = tqdm(total=total, desc=name, unit="net" if name == "probing" else "step",
                                         file=sys.stderr, disable=self.quiet, leave=True)
        bar.set_postfix_str(what, refresh=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def _progress(bar, s: dict) -> None:
    sel = next(iter(s["best_selection"].values()), {}).get("kendall")
    div = s["diversity"]
    bar.set_postfix(best=f"{s['best_fitness']:.3f}", selection=f"{sel:.3f}" if sel is not None else "-",
                    distinct=f"{div['distinct']}/{div['size']}", evals_s=f"{s['evals_per_s']:.1f}",
                    rejected=sum(s["rejections"].values()))
    bar.update(1)


def _print_report(r: "search.SearchResult", combine: str = "mean") -> None:
    run_dir = r.run_dir
    metric = "spearman" if r.fitness == "spearman" else "kendall"   # the rank measure the fitness is built on
    over = f", {combine} over benchmarks" if len(r.hall_of_fame[0].selection if r.hall_of_fame else {}) > 1 else ""
    print(f"hall of fame, ordered by selection fitness (selection-split {metric}{over}; ties by search fitness); "
          f"search = the search-split {r.fitness} evolved on; figures on the final holdout:\n"
          "  rank  selection  search  final holdout\n        formula")
    for e in r.hall_of_fame:
        print(f"  {e.rank}. selection {_selection(e.selection, metric, combine)}  search {e.search_fitness:.3f}  "
              f"{fmt_holdout(e.holdout)}\n     {e.formula}")
        _print_transfer(e.transfer)
    if r.ensemble:
        print(f"evolved ensemble ({len(r.ensemble.members)} member(s) by forward selection on the selection "
              f"split; final holdout):\n  {fmt_holdout(r.ensemble.holdout)}\n     {r.ensemble.formula}")
        _print_transfer(r.ensemble.transfer)
    if r.learned:
        print("learned baselines (fitted on the search + selection networks' accuracies over the baselines' "
              "values):\n  model          final holdout")
        for m in r.learned:
            print(f"  {m.name:14s} {fmt_holdout(m.holdout)}")
    print("baselines on the same holdout networks and batch:\n  proxy      final holdout")
    for b in r.baselines:
        print(f"  {b.proxy:10s} {fmt_holdout(b.holdout)}")
        _print_transfer(b.transfer)
    print("Pareto front (search fitness vs program size):\n  size     fitness  formula")
    for e in r.pareto:
        print(f"  {e['size']:4d}     {e['search_fitness']:.3f}    {e['formula']}")
    print("rejections over the run: " + (", ".join(f"{k} {v}" for k, v in sorted(r.rejections.items())) or "none")
          + " (per generation in the run store)")
    if r.stopped_at is not None:
        print(f"the time budget (max_minutes) ended the run after generation {r.stopped_at}; "
              f"continue it with: evoproxy search --resume {run_dir} (a fresh budget)")
    print(f"run store: {run_dir / 'run.sqlite'}; report with: evoproxy report {run_dir}; "
          f"export with: evoproxy export {run_dir}")


def _selection(figures: dict, metric: str, combine: str) -> str:
    """The selection fitness the hall of fame is ordered by: per-benchmark figures combined (an
    undefined one counts as -1, as the search counts it); '-' for a run that did not store them."""
    values = [f.get(metric) for f in figures.values()]
    if not values:
        return "    -"
    sure = [v if isinstance(v, (int, float)) and v == v and abs(v) != float("inf") else -1.0 for v in values]
    return f"{(sum(sure) / len(sure) if combine == 'mean' else min(sure)):.3f}"


def _print_transfer(transfer: dict) -> None:
    if transfer:
        print(f"     transfer (networks never searched on): {fmt_holdout(transfer)}")


def cmd_export(args: argparse.Namespace) -> int:
    if args.max_size is not None and (args.top != 1 or args.ensemble):
        raise EvoproxyError("--max-size exports one program (the best of the Pareto front within it); "
                            "drop --top and --ensemble")
    print(exports.export_run(args.run_dir, args.format, args.top, args.ensemble, args.max_size, fmt_holdout))
    return 0


def add_commands(sub) -> None:
    _add_search(sub)
    _add_export(sub)


def _add_search(sub) -> None:
    d = search.RunConfig()   # the built-in defaults a config file or --set overrides
    p = sub.add_parser("search", help="evolve proxies on a benchmark (the main job)")
    p.add_argument("--benchmark", help="benchmark name(s) to search on, comma-separated (default: the config's "
                   f"benchmarks, {','.join(d.task.benchmarks)} without one)")
    p.add_argument("--config", help="a TOML file of config keys, e.g. experiments/quick.toml (default: the "
                   "built-in defaults; see docs/configs.md)")
    p.add_argument("--generations", type=at_least(0), metavar="N", help="generations to evolve after generation 0 "
                   f"(default: the config's generations, {d.evolution.generations} without one; with --resume, a "
                   "larger N goes on)")
    p.add_argument("--population", type=at_least(2), metavar="N", help="programs in the population (default: the "
                   f"config's population, {d.evolution.population} without one)")
    p.add_argument("--seed", type=at_least(0), help="seeds the evolution and the choice of networks; the same seed "
                   f"and config give the same run (default: the config's seed, {d.evolution.seed} without one)")
    p.add_argument("--backend", choices=names("backends"), help="where candidates are scored: serial (this process) "
                   f"or ray (worker processes or a cluster) (default: the config's, {d.execution.backend} without one)")
    p.add_argument("--ray-address", dest="ray_address", help="join this Ray cluster (default: $RAY_ADDRESS, else "
                   "an embedded Ray)")
    p.add_argument("--workers", type=at_least(1), help="Ray processes, or packs of networks scored at once on "
                   "threads by the serial backend, never more than the free cores (default: the config's, "
                   f"{d.execution.workers} without one)")
    p.add_argument("--max-minutes", dest="max_minutes", type=positive_number, metavar="M",
                   help="a time budget: end cleanly, with the report, after the generation that passes M minutes "
                   "(--resume continues it with a fresh budget; default: none)")
    p.add_argument("--init-from", dest="init_from", metavar="RUN_DIR_OR_FILE",
                   help="warm start: generation 0 begins with a run's last population or a proxies file "
                   "(an exported JSON, or one formula or proxy name per line; default: random programs)")
    p.add_argument("--out", help="run directory (default runs/<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last committed generation")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any config key (repeatable; "
                   "see docs/configs.md)")
    p.add_argument("--teacher", help="vit-* benchmarks: teacher checkpoint (default: the shipped ResNet-20)")
    add_data_dir(p)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_search)


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a finished run's discovered proxies")
    p.add_argument("run_dir", help="a finished search's run directory (its --out)")
    p.add_argument("--top", type=at_least(1), default=1, help="how many hall-of-fame entries (default 1)")
    p.add_argument("--ensemble", action="store_true",
                   help="export the evolved ensemble (one set-level formula; its fitness is on the selection split)")
    p.add_argument("--max-size", type=at_least(1), metavar="N",
                   help="export the best program of the Pareto front with at most N nodes (by search fitness)")
    p.add_argument("--format", default="json", choices=exports.FORMATS, help=(
        "json (default): a proxy file for eval --proxy / load_proxy; text; latex; sympy (read back with "
        "evoproxy.lang.export.read_sympy); python: a module with proxy(model, batch) -> float; csv: the hall "
        "of fame, ensemble and baselines with their figures"))
    p.set_defaults(func=cmd_export)


register_commands(CommandGroup("search", add_commands))
