"""The performance scripts of experiments/perf: their figures, their refusals, and what they read."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tests.scripthelp import EXPERIMENTS, load_script


def _perf(script: str, *args: str):
    return subprocess.run([sys.executable, str(EXPERIMENTS / "perf" / script), *args], capture_output=True, text=True)


def test_search_throughput_prints_every_evaluator_with_the_best_of_its_repeats():
    run = _perf("search_throughput.py", "--benchmark", "synthetic", "--archs", "4", "--generations", "1",
                "--population", "6", "--offspring", "4", "--repeats", "2", "--no-ray")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    progress = [x.split(" generation 0 ")[0].strip() for x in lines if x.startswith("  ") and " generation 0 " in x]
    order = ["one by one", "packs", "packs + reuse", "packs + reuse, 2 threads"]
    assert progress == order + order[::-1]  # 4 evaluators, forwards then backwards
    rows = [x.split(" | ") for x in lines if x.startswith("| ") and "prog/min" in x]
    assert [r[0][2:] for r in rows] == order
    assert "10/10 programs bit-identical" in rows[0][4]


@pytest.mark.parametrize("script,args,why", [
    ("search_throughput.py", ["--repeats", "0"], "--repeats: must be an integer >= 1"),
    ("search_throughput.py", ["--from-run", "no-such-run"], "no-such-run holds no run store"),
    ("search_throughput.py", ["--benchmark", "nope"], "unknown benchmark 'nope'"),
    ("op_floor.py", ["--benchmark", "nope"], "unknown benchmark 'nope'"),
    ("op_floor.py", ["--mmap-mib", "0"], "--mmap-mib: must be an integer >= 1"),
    ("memo_memory.py", ["--from-run", "no-such-run"], "no-such-run holds no run store"),
    ("memo_memory.py", ["--from-run", "{run}", "--generations", "5:3"], "give A:B"),
])
def test_perf_scripts_refuse_bad_options_in_one_line(script, args, why, tmp_path):
    (tmp_path / "run.sqlite").touch()
    run = _perf(script, *(a.format(run=tmp_path) for a in args))
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert why in run.stderr.strip().splitlines()[-1]


def test_op_floor_sorts_op_time_by_first_time_and_recomputed_tensor_nodes():
    """A tensor node computed in an earlier call counts as recomputed; a reduced (layer) value is reused,
    not recomputed; the clock (an observer of the interpreter, not a patch of it) changes no score."""
    floor = load_script("perf/op_floor")
    from evoproxy.backends.serial import SerialBackend
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.setup import EvalSetup, ScoringConfig
    setup = EvalSetup(scoring=ScoringConfig(batch_size=4), pack_networks=2, reuse_mb=64, pack_threads=1)
    backend = SerialBackend(setup, get_benchmark)
    keys = [("synthetic", a) for a in get_benchmark("synthetic").sample(4, "search")]
    calls = [["layer_sum(l1(relu(act)))"], ["layer_sum(l1(relu(act)))", "layer_sum(l2(relu(act)))"]]
    plain = [backend.score(texts, keys)[0] for texts in calls]
    clock = floor.OpClock()
    backend = SerialBackend(setup, get_benchmark, observer=clock)
    total, read_bytes, _, _ = floor.score_stream(backend, calls, keys, clock)
    timed = [backend.score(texts, keys)[0] for texts in calls]
    for a, b in zip(plain, timed):
        np.testing.assert_array_equal(a, b)
    # on each of 2 packs: relu and l1 first time in call 1; in call 2 l1's layer value is reused, l2 is
    # new and its relu recomputed; the replay reuses both reductions and computes nothing
    assert set(clock.by_op) == {"relu", "l1", "l2"}
    assert clock.calls["tensor ops, first time"] == 6 and clock.calls["tensor ops, recomputed"] == 2
    assert total > 0 and read_bytes == 2 * sum(b for (_, stat), b in clock.stat_bytes.items() if stat == "act")
    clock.reset()
    assert not clock.calls and not clock.seen and not clock.stat_bytes


def test_time_to_quality_reads_minutes_to_the_target_from_a_run_and_keeps_holdout_scores(tmp_path, monkeypatch):
    ttq = load_script("perf/time_to_quality")
    assert ttq.reached([(1.0, 0.8), (2.5, 0.91), (3.0, 0.95)], 0.9) == 2.5
    assert ttq.reached([(1.0, 0.8)], 0.9) == float("inf")
    from evoproxy.evolve.store import RunStore
    with RunStore(tmp_path / "full-scratch-s0") as store:  # two generations of 90 s and 30 s
        for g, (seconds, best) in enumerate(((90.0, "a"), (30.0, "b"))):
            store.commit_generation(g, [], [], {}, {"seconds": seconds, "best": best})
    assert ttq.curve(tmp_path / "full-scratch-s0") == [(1.5, "a"), (2.0, "b")]
    (tmp_path / "holdout.csv").write_text("program,spearman\na,0.5\nb,0.93\n")
    monkeypatch.setattr(ttq.evoproxy, "evaluate_proxies", lambda *a, **k: pytest.fail("kept scores are read"))
    assert ttq.holdout_spearman(tmp_path, ["a", "b"], 200) == {"a": 0.5, "b": 0.93}


def test_memory_trace_reports_the_peak_and_the_phase_it_fell_in(tmp_path, capsys, monkeypatch):
    trace = load_script("perf/memory_trace")
    child = tmp_path / "child.py"
    child.write_text("import sys, time\nsys.stderr.write('small\\n'); sys.stderr.flush(); time.sleep(0.6)\n"
                     "sys.stderr.write('large\\n'); sys.stderr.flush(); time.sleep(0.3)\n"
                     "big = bytearray(300 * 2**20); big[::4096] = b'x' * len(big[::4096]); time.sleep(0.8)\n")
    monkeypatch.setattr("sys.argv", ["memory_trace.py", "--every", "0.1", "--csv", str(tmp_path / "t.csv"),
                                     "--", sys.executable, str(child)])
    assert trace.main() == 0
    out = capsys.readouterr().out
    assert "during: large" in out, out
    phases = {line.split("MiB")[1].strip(): float(line.split("MiB")[0].replace(",", ""))
              for line in out.splitlines() if line.startswith("  ") and "MiB" in line}
    assert phases["large"] - phases["small"] > 250
    assert trace.phase_of("final report:  33%|###  | 2/6 [00:01<00:02,  1.20step/s, 64 programs on the final "
                          "holdout]") == "final report: 64 programs on the final holdout"
