"""The Ray backend: same seed -> same run as serial, any worker count; the cluster path."""
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import pytest

from evoproxy.evolve.store import RunStore
from tests.evolve.test_search import search, trace

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def serial_trace(tmp_path_factory):
    _, store = search(tmp_path_factory.mktemp("serial"), generations=4)
    return trace(store)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_ray_run_equals_serial_run(tmp_path, serial_trace, workers):
    _, store = search(tmp_path, generations=4, backend="ray", workers=workers)
    assert trace(store) == serial_trace


def test_a_racing_run_is_the_same_on_ray(tmp_path):
    _, serial = search(tmp_path, "serial", generations=4, race=True)
    _, ray = search(tmp_path, "ray", generations=4, race=True, backend="ray", workers=2)
    assert trace(ray) == trace(serial)
    assert any(r.rejection == "raced-out" for r in serial.candidates())


SOTA_LANGUAGE = dict(generations=3, stats=("weight", "relu_in", "grad_split", "block_out"),
                     ops=("step", "corr", "cov", "channels", "neurons", "eig_min", "logdet", "eff_rank", "distinct_rows",
                          "sample_mean", "sample_std", "layers_total", "layers_concat", "layer_diff", "layer_min",
                          "layer_sum", "layer_mean", "add", "mul", "log", "sum", "l2"),
                     baselines=("params", "swap", "aznas"), timeout_s=3600.0)  # no wall-clock rejections


def test_a_run_over_the_new_statistics_and_ops_is_the_same_on_ray(tmp_path):
    """Per-sample, ReLU-level and block statistics, spectral ops and a set-level baseline (AZ-NAS's
    rank aggregate) give the same run and report serially and on Ray."""
    serial_report, serial = search(tmp_path, "serial", **SOTA_LANGUAGE)
    ray_report, ray = search(tmp_path, "ray", backend="ray", workers=2, **SOTA_LANGUAGE)
    assert trace(ray) == trace(serial)
    assert ray_report.baselines == serial_report.baselines
    texts = [r.text for r in serial.candidates()]
    assert any("relu_in" in t or "grad_split" in t or "block_out" in t for t in texts)


def test_search_recovers_the_known_formula_on_ray(tmp_path):
    report, _ = search(tmp_path, backend="ray", workers=2)
    assert report.best.holdout["synthetic"]["kendall"] >= 0.95


def test_a_dying_worker_costs_only_its_candidate():
    from evoproxy.backends.ray import RayBackend
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.setup import EvalSetup

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


def _has_dashboard() -> bool:
    try:
        import ray.dashboard.modules.job.sdk  # noqa: F401  (ray[default], the test extra)
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


SEARCH = ["search", "--benchmark", "synthetic", "--generations", "2", "--population", "8", "--backend", "ray",
          "--quiet", "--set", "baselines=['params']"]


def _submit(run, cmd: list, tries: int = 12):
    """``ray job submit``, again while the head's job agent is still starting (Ray says: try again later)."""
    for _ in range(tries - 1):
        done = run(cmd)
        if "No available agent" not in done.stdout + done.stderr:
            return done
        time.sleep(10)
    return run(cmd)


def _ours(marker: str) -> list[int]:
    """Pids of the processes whose command line names ``marker`` (our head's private temp dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                pids.append(int(entry.name))
        except OSError:
            continue
    return [p for p in pids if p != os.getpid()]


@contextlib.contextmanager
def private_head(env: dict, port: int, dashboard_port: int):
    """A Ray head of this test's own (its own temp dir, ports and process group), stopped exactly:
    ``ray start --block`` shuts its node down on SIGTERM; whatever still names our temp dir after that
    is killed by pid. Never ``ray stop``, which stops every Ray on the machine (the user's searches too)."""
    temp = tempfile.mkdtemp(prefix="evoproxy-ray-", dir="/tmp")   # short: Ray's socket paths have a limit
    agent_ports = [f"--{name}={_free_port()}" for name in AGENT_PORTS]   # a user's Ray holds the defaults
    cmd = ["ray", "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
           f"--dashboard-port={dashboard_port}", *agent_ports, "--num-cpus=2", "--disable-usage-stats",
           f"--temp-dir={temp}"]
    head = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_for_port(port, head)
        yield
    finally:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
        for pid in _ours(temp):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp, ignore_errors=True)


AGENT_PORTS = ("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
               "metrics-export-port", "ray-client-server-port", "node-manager-port", "object-manager-port")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, head: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert head.poll() is None, "ray start --head exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            time.sleep(3)                    # the GCS listens before the raylet registers
            return
        time.sleep(0.5)
    raise AssertionError(f"the Ray head did not listen on {port} within {seconds} s")


@pytest.mark.skipif(shutil.which("ray") is None, reason="the ray CLI is not on PATH")
def test_the_readme_cluster_commands_work_as_written(tmp_path):
    """docs/search.md, Parallel runs and clusters: token authentication on (Ray >= 2.52), a loopback head, a
    search that joins it, and ``ray job submit`` writing the run where --out says."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(HOME=str(tmp_path / "home"), RAY_AUTH_MODE="token")   # a private token, as on a fresh machine
    run = partial(subprocess.run, env=env, capture_output=True, text=True, timeout=300)
    assert run(["ray", "get-auth-token", "--generate"]).returncode == 0
    port, dashboard = _free_port(), _free_port()
    with private_head(env, port, dashboard):
        joined = run([sys.executable, "-m", "evoproxy", *SEARCH, "--ray-address", f"127.0.0.1:{port}",
                      "--out", str(tmp_path / "r")])
        assert joined.returncode == 0, joined.stderr[-2000:]
        assert "hall of fame" in joined.stdout
        if not _has_dashboard():
            pytest.skip("ray job submit needs ray[default] (the test extra installs it)")
        submit = ["ray", "job", "submit", "--address", f"http://127.0.0.1:{dashboard}", "--working-dir", str(ROOT), "--"]
        job = _submit(run, [*submit, "evoproxy", *SEARCH, "--out", str(tmp_path / "job")])
        assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
        assert (tmp_path / "job" / "run.sqlite").is_file()   # where --out said, not in Ray's temporary copy
        lost = _submit(run, [*submit, "evoproxy", *SEARCH, "--out", "runs/job"])
        assert lost.returncode != 0 and "give an absolute path" in lost.stdout + lost.stderr


def test_workers_get_the_data_dir_through_the_runtime_env(monkeypatch, tmp_path):
    import ray

    from evoproxy.backends.ray import RayBackend
    from evoproxy.benchmarks import get_benchmark
    from evoproxy.scoring.setup import EvalSetup

    monkeypatch.setenv("EVOPROXY_DATA", str(tmp_path))
    backend = RayBackend(EvalSetup(), get_benchmark, workers=1)
    try:
        passed = ray.get_runtime_context().runtime_env.get("env_vars", {})
        assert passed == {"EVOPROXY_DATA": str(tmp_path)}
    finally:
        backend.close()


USER_SEARCH = ["search", "--benchmark", "synthetic", "--generations", "40", "--population", "8", "--quiet",
               "--set", "baselines=['params']"]


def _generations(run_dir: Path) -> int:
    """Committed generations of a run another process is writing (0 before its store exists)."""
    with contextlib.suppress(sqlite3.Error):
        with contextlib.closing(sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)) as db:
            return db.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    return 0


def test_the_ray_tests_leave_a_users_ray_search_running_and_unchanged(tmp_path):
    """The README's test command beside a user's ``evoproxy search --backend ray``: the tests that start
    and stop Ray leave that search's Ray running (its driver is paused meanwhile, so it is mid-run
    whatever the machine's speed), and it ends with the run an undisturbed search gives."""
    evoproxy, out = [sys.executable, "-m", "evoproxy"], tmp_path / "user"
    user = subprocess.Popen([*evoproxy, *USER_SEARCH, "--backend", "ray", "--workers", "1", "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while _generations(out) < 2 and user.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        user.send_signal(signal.SIGSTOP)
        assert _generations(out) < 41, "the user's search ended before the tests beside it started"
        beside = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "ray",
                                 f"{__file__}::test_the_readme_cluster_commands_work_as_written",
                                 f"{__file__}::test_a_dying_worker_costs_only_its_candidate"],
                                cwd=ROOT, capture_output=True, text=True, timeout=900)
        user.send_signal(signal.SIGCONT)
        assert beside.returncode == 0, beside.stdout[-2000:]
        assert user.wait(timeout=900) == 0, user.stderr.read()[-2000:]
    finally:
        user.send_signal(signal.SIGCONT)
        user.kill()
    alone = subprocess.run([*evoproxy, *USER_SEARCH, "--out", str(tmp_path / "alone")], capture_output=True,
                           timeout=900)
    assert alone.returncode == 0
    with RunStore(out, create=False) as disturbed, RunStore(tmp_path / "alone", create=False) as ref:
        assert trace(disturbed) == trace(ref)
