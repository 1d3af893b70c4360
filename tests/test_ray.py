"""The Ray backend: same seed -> same run as serial, any worker count; the cluster path."""
import shutil
import subprocess
import sys

import pytest

from tests.test_search import search, trace

pytestmark = [pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def serial_trace(tmp_path_factory):
    _, store = search(tmp_path_factory.mktemp("serial"), generations=4)
    return trace(store)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_ray_run_equals_serial_run(tmp_path, serial_trace, workers):
    _, store = search(tmp_path, generations=4, backend="ray", workers=workers)
    assert trace(store) == serial_trace


def test_search_recovers_the_known_formula_on_ray(tmp_path):
    report, _ = search(tmp_path, backend="ray", workers=2)
    assert report["hall_of_fame"][0]["holdout"]["synthetic"]["kendall"] >= 0.95


def test_a_dying_worker_costs_only_its_candidate():
    from evoproxy.backends.ray import RayBackend
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.worker import EvalSetup

    backend = RayBackend(EvalSetup(), get_benchmark, workers=2)
    try:
        keys = [("synthetic", a) for a in range(6)]
        ok = backend.score(["layer_sum(l2(grad))"], keys)[0]
        ray_kill = backend.actors[0]
        import ray
        ray.kill(ray_kill, no_restart=True)  # a worker dies between calls
        again = backend.score(["layer_sum(l2(grad))", "layer_sum(l1(weight))"], keys)[0]
        assert backend.restarts == 1
        assert (again[0] == ok[0]).all()
    finally:
        backend.close()


@pytest.mark.skipif(shutil.which("ray") is None, reason="the ray CLI is not on PATH")
def test_search_joins_a_running_cluster(tmp_path):
    port = "6391"
    start = ["ray", "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
             "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"]
    subprocess.run(start, check=True, capture_output=True, timeout=120)
    try:
        out = subprocess.run([sys.executable, "-m", "evoproxy", "search", "--benchmark", "synthetic",
                              "--generations", "2", "--population", "8", "--backend", "ray",
                              "--ray-address", f"127.0.0.1:{port}", "--out", str(tmp_path / "r"),
                              "--quiet", "--set", "baselines=['params']"],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "hall of fame" in out.stdout
    finally:
        subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120)


def test_workers_get_the_data_dir_through_the_runtime_env(monkeypatch, tmp_path):
    import ray

    from evoproxy.backends.ray import RayBackend
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.worker import EvalSetup

    monkeypatch.setenv("EVOPROXY_DATA", str(tmp_path))
    backend = RayBackend(EvalSetup(), get_benchmark, workers=1)
    try:
        passed = ray.get_runtime_context().runtime_env.get("env_vars", {})
        assert passed == {"EVOPROXY_DATA": str(tmp_path)}
    finally:
        backend.close()
