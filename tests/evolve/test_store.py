import json
import math
import random
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from evoproxy.errors import EvoproxyError
from evoproxy.evolve.store import CandidateRow, RunStore, SCHEMA_VERSION
from evoproxy.evolve.store.codec import rng_state_from_json, rng_state_to_json


def cand(gen, idx, fitness=0.5, rejection=None):
    return CandidateRow(gen, idx, f"add(x{idx}, 1)", f"add(1, x{idx})", f"{gen:08x}{idx:08x}",
                        "mutation", ["aaaaaaaaaaaaaaaa"], fitness,
                        {"kendall": 0.4, "per_benchmark": {"nb201": 0.3}}, rejection, None)


def commit(store, gen, n=3):
    cands = [cand(gen, i) for i in range(n)]
    pop = [{"text": c.text, "hash": c.hash, "fitness": c.fitness, "age": gen} for c in cands]
    store.commit_generation(gen, cands, pop, {"counters": {"evals": gen}}, {"best": gen / 10})


def test_round_trip(tmp_path):
    with RunStore(tmp_path / "run") as st:
        assert st.last_generation() is None and st.load_config() is None
        assert st.candidates() == [] and st.summaries() == [] and st.hall_of_fame() == []
        st.save_config({"pop": 50, "seed": (1, 2)})
        st.save_config({"pop": 50, "seed": [1, 2]})  # equal as JSON: a no-op
        commit(st, 0)
        commit(st, 1, n=2)
        st.save_hall_of_fame([{"hash": "a", "fitness": 0.9}, {"hash": "b", "fitness": 0.8}])
        st.save_hall_of_fame([{"hash": "c", "fitness": np.float32(0.5)}])
        st.set_meta("status", "running")
        st.set_meta("status", "finished")
        st.set_meta("report", {"best": [1, 2.5], "bad": float("inf")})
    with RunStore(tmp_path / "run", create=False) as st:
        assert st.load_config() == {"pop": 50, "seed": [1, 2]}
        assert st.last_generation() == 1
        pop, state, summary = st.load_generation(0)
        assert pop[1] == {"text": "add(x1, 1)", "hash": "0000000000000001", "fitness": 0.5,
                          "age": 0}
        assert state == {"counters": {"evals": 0}} and summary == {"best": 0.0}
        assert st.candidates(0) == [cand(0, i) for i in range(3)]
        assert st.candidates() == [cand(0, 0), cand(0, 1), cand(0, 2), cand(1, 0), cand(1, 1)]
        assert st.summaries() == [{"generation": 0, "best": 0.0}, {"generation": 1, "best": 0.1}]
        assert st.hall_of_fame() == [{"hash": "c", "fitness": 0.5}]
        assert st.get_meta("status") == "finished"
        assert st.get_meta("report") == {"best": [1, 2.5], "bad": None}
        assert st.get_meta("nope", 7) == 7
        assert st.get_meta("schema_version") == SCHEMA_VERSION
        with pytest.raises(EvoproxyError, match="generation 5 is not in the run store"):
            st.load_generation(5)


def test_nan_fitness_and_scores(tmp_path):
    rows = [cand(0, 0, float("nan"), "nan"), cand(0, 1, None, "timeout"),
            cand(0, 2, float("-inf")), cand(0, 3, np.float64(0.25))]
    with RunStore(tmp_path) as st:
        summary = {"best": float("nan"), "arr": np.arange(2)}
        st.commit_generation(0, rows, [{"fitness": float("nan")}], {}, summary)
        got = st.candidates(0)
        assert math.isnan(got[0].fitness) and math.isnan(got[1].fitness)
        assert got[2].fitness == float("-inf") and got[3].fitness == 0.25
        assert [c.rejection for c in got] == ["nan", "timeout", None, None]
        pop, _, summary = st.load_generation(0)
        assert pop == [{"fitness": None}] and summary == {"best": None, "arr": [0, 1]}


def test_rng_state_round_trip(tmp_path):
    rng = random.Random(42)
    rng.random()
    rng.gauss(0, 1)  # leaves a cached gauss_next
    state = rng.getstate()
    assert state[2] is not None
    assert rng_state_from_json(json.loads(json.dumps(rng_state_to_json(state)))) == state
    with RunStore(tmp_path) as st:
        st.commit_generation(0, [], [], {"rng": rng_state_to_json(state)}, {})
        stored = st.load_generation(0)[1]["rng"]
    expected = [rng.gauss(0, 1), rng.random(), rng.randrange(10**9)]
    again = random.Random()
    again.setstate(rng_state_from_json(stored))
    assert [again.gauss(0, 1), again.random(), again.randrange(10**9)] == expected


def test_out_of_order_commit_raises(tmp_path):
    with RunStore(tmp_path) as st:
        commit(st, 0)
        commit(st, 2)
        for g in (2, 1, -1):
            with pytest.raises(ValueError, match="last committed is 2"):
                commit(st, g)
        with pytest.raises(ValueError, match="another generation"):
            st.commit_generation(3, [cand(4, 0)], [], {}, {})
        with pytest.raises(ValueError, match="duplicate candidate index"):
            st.commit_generation(3, [cand(3, 0), cand(3, 0)], [], {}, {})
        with pytest.raises(TypeError):  # not JSON-able: nothing written
            st.commit_generation(3, [cand(3, 0)], [], {"x": object()}, {})
        assert st.last_generation() == 2 and st.candidates(3) == []
        assert len(st.candidates()) == 6
        commit(st, 3)


def test_changed_config_refused(tmp_path):
    with RunStore(tmp_path) as st:
        st.save_config({"pop": 50, "seed": 1, "ops": ["a"]})
    with RunStore(tmp_path) as st:
        with pytest.raises(EvoproxyError) as err:
            st.save_config({"pop": 60, "seed": 1, "ops": ["a"], "extra": None})
        msg = str(err.value)
        assert "\n" not in msg and "extra, pop" in msg and "seed" not in msg
        assert st.load_config() == {"pop": 50, "seed": 1, "ops": ["a"]}


def test_partial_generation_invisible(tmp_path):
    with RunStore(tmp_path) as st:
        commit(st, 0)
        commit(st, 1)
        commit(st, 2)
    code = textwrap.dedent(f"""
        import os
        from evoproxy.evolve.store import RunStore, CandidateRow
        RunStore._insert_generation = lambda self, row: os._exit(0)  # die mid-transaction
        st = RunStore({str(tmp_path)!r})
        rows = [CandidateRow(3, i, "x", "x", "h", "random", [], 1.0, {{}}, None, None)
                for i in range(5)]
        st.commit_generation(3, rows, [], {{}}, {{}})
        """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with RunStore(tmp_path, create=False) as st:
        assert st.last_generation() == 2
        assert st.candidates(3) == [] and len(st.candidates()) == 9
        commit(st, 3)
        assert st.last_generation() == 3


def test_missing_store(tmp_path):
    for where in (tmp_path / "nowhere", tmp_path):
        with pytest.raises(EvoproxyError) as err:
            RunStore(where, create=False)
        assert str(err.value) == f"no run store at {where / 'run.sqlite'}; start a run with --out"
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "run.sqlite").exists()


def test_unknown_schema_and_foreign_file(tmp_path):
    with RunStore(tmp_path / "a"):
        pass
    with sqlite3.connect(tmp_path / "a" / "run.sqlite") as conn:
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(EvoproxyError, match="schema version 99"):
        RunStore(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "run.sqlite").write_text("not a database at all" * 100)
    with pytest.raises(EvoproxyError, match="not a usable run store"):
        RunStore(tmp_path / "b")


def test_reserved_meta_keys(tmp_path):
    with RunStore(tmp_path) as st:
        with pytest.raises(ValueError):
            st.set_meta("config", {})


def test_reader_and_writer(tmp_path):
    writer = RunStore(tmp_path)
    reader = RunStore(tmp_path, create=False)
    try:
        assert reader.last_generation() is None
        commit(writer, 0)
        writer.set_meta("status", "running")
        assert reader.last_generation() == 0 and len(reader.candidates(0)) == 3
        assert reader.get_meta("status") == "running"
        with RunStore(tmp_path, create=False) as late:
            assert late.summaries() == [{"generation": 0, "best": 0.0}]
        assert writer._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        conn = sqlite3.connect(tmp_path / "run.sqlite")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()
    finally:
        reader.close()
        writer.close()
