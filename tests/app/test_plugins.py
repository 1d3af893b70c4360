"""--plugin / the ``plugins`` config key: the user's module reaches the driver and every worker."""
import subprocess
import sys
from pathlib import Path

import pytest

from evoproxy.errors import EvoproxyError
from evoproxy.plugins import load_plugin, plugin_args, without_plugin_args

PLUGIN = Path(__file__).resolve().parents[1] / "plugin_tiny.py"
TINY = ["--benchmark", "plugtiny", "--set", 'probe="synthetic"', "--set", "search_archs=4", "--set",
        "holdout_archs=4", "--set", "screen_archs=2", "--set", 'baselines=["params"]', "--generations", "1",
        "--population", "4", "--quiet"]


def evoproxy(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "evoproxy", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_plugin_arguments_are_found_anywhere_and_taken_out():
    argv = ["search", "--plugin", "a.b", "--generations", "2", "--plugin=c.py", "--", "--plugin", "x"]
    assert plugin_args(argv) == ["a.b", "c.py"]
    assert without_plugin_args(argv) == ["search", "--generations", "2", "--", "--plugin", "x"]


def test_a_missing_or_broken_plugin_is_one_line(tmp_path):
    with pytest.raises(EvoproxyError, match="plugin 'no_such_mod_xyz' not found"):
        load_plugin("no_such_mod_xyz")
    with pytest.raises(EvoproxyError, match="plugin file .* not found"):
        load_plugin(str(tmp_path / "nope.py"))
    bad = tmp_path / "bad_plugin_q.py"
    bad.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(EvoproxyError, match="plugin 'bad_plugin_q' failed to import: RuntimeError: boom"):
        load_plugin(str(bad))
    out = evoproxy("--plugin", str(bad), "list", "proxies")
    assert out.returncode == 2 and out.stderr.strip().count("\n") == 0 and "boom" in out.stderr


@pytest.mark.slow
def test_a_plugin_file_registers_a_benchmark_for_a_search_and_its_resume(tmp_path):
    run = evoproxy("search", "--plugin", str(PLUGIN), *TINY, "--out", str(tmp_path / "r"))
    assert run.returncode == 0, run.stderr[-1500:]
    assert "hall of fame" in run.stdout
    again = evoproxy("search", "--resume", str(tmp_path / "r"), "--generations", "2", "--quiet")
    assert again.returncode == 0, again.stderr[-1500:]   # the stored config names the plugin by its path


@pytest.mark.ray
@pytest.mark.slow
def test_ray_workers_import_the_plugin_and_an_unknown_one_ends_the_run_in_one_line(tmp_path):
    script = tmp_path / "driver.py"   # registers the benchmark in the driver only, as a user's script does
    script.write_text(f"import sys\nsys.path.insert(0, {str(PLUGIN.parent)!r})\nimport plugin_tiny\n"
                      "from evoproxy.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    ray = ["--backend", "ray", "--workers", "1"]
    lost = subprocess.run([sys.executable, str(script), "search", *TINY, *ray, "--out", str(tmp_path / "a")],
                          capture_output=True, text=True, timeout=300)
    assert lost.returncode == 2, lost.stderr[-1500:]
    last = lost.stderr.strip().splitlines()[-1]
    assert last.startswith("evoproxy: error: Ray worker 0 failed") and "plugtiny" in last and "--plugin" in last
    ok = evoproxy("search", "--plugin", str(PLUGIN), *TINY, *ray, "--out", str(tmp_path / "b"))
    assert ok.returncode == 0, ok.stderr[-1500:]
