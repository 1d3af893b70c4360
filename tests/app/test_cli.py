import argparse
import json
import os
import subprocess
import sys

import pytest

from evoproxy.cli import main
from evoproxy.lang.proxyfile import read_proxy


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_show_latex(capsys):
    code, out, _ = run(capsys, "show", "snip", "--format", "latex")
    assert code == 0 and r"\sum_{l}" in out and r"\nabla_{W}\mathcal{L}" in out


def test_bad_formula_is_one_line_and_exit_2(capsys):
    code, out, err = run(capsys, "show", "bad(")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("evoproxy: error: column 1:")


def test_console_entry_point_exits_2_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "evoproxy", "show", "mul(act, weight)"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot pair tensor[A] with tensor[W]" in proc.stderr


@pytest.mark.parametrize("what, expect", [("ops", "matmul"), ("stats", "virtual_grad"),
                                          ("proxies", "synflow")])
def test_list(capsys, what, expect):
    code, out, _ = run(capsys, "list", what)
    assert code == 0 and expect in out


@pytest.mark.parametrize("fmt, expect", [("text", "canonical:"), ("sympy", "Abs(grad*weight)"),
                                         ("dot", "digraph proxy")])
def test_show_formats(capsys, fmt, expect):
    code, out, _ = run(capsys, "show", "layer_sum(sum(abs(mul(weight, grad))))", "--format", fmt)
    assert code == 0 and expect in out


def test_json_export_loads_back(capsys, tmp_path):
    code, out, _ = run(capsys, "show", "fisher", "--format", "json")
    path = tmp_path / "fisher.json"
    path.write_text(out)
    spec = read_proxy(path)
    assert spec.program.text == json.loads(out)["formula"] and spec.direction == 1
    code, out, _ = run(capsys, "show", str(path))
    assert code == 0 and out.startswith(spec.program.text)


def test_unreadable_proxy_file(capsys, tmp_path):
    path = tmp_path / "p.json"
    path.write_text('{"formula": "layer_sum(l2(act, weight))"}')
    code, _, err = run(capsys, "show", str(path))
    assert code == 2 and str(path) in err and err.count("\n") == 1
    code, _, err = run(capsys, "show", str(tmp_path / "missing.json"))
    assert code == 2 and "not found" in err


@pytest.mark.slow
def test_export_json_is_usable_by_eval_and_load_proxy(capsys, tmp_path):
    import torch

    from evoproxy import load_proxy
    from evoproxy.data.images import synthetic_batch
    from evoproxy.spaces.nb201 import build_nb201

    run_dir = tmp_path / "run"
    assert main(["search", "--config", "experiments/synthetic.toml", "--generations", "2",
                 "--out", str(run_dir), "--quiet"]) == 0
    capsys.readouterr()
    for fmt, expect in [("text", "synthetic: tau"), ("latex", "\\"), ("sympy", "("),
                        ("python", "formula_proxy(")]:
        assert main(["export", str(run_dir), "--format", fmt, "--top", "2"]) == 0
        assert expect in capsys.readouterr().out
    assert main(["export", str(run_dir)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["direction"] == 1 and doc["lineage"] is not None and "holdout" in doc
    path = tmp_path / "best.json"
    path.write_text(json.dumps(doc))
    code, out, _ = run(capsys, "eval", "--proxy", str(path), "--benchmark", "synthetic",
                           "--archs", "12", "--probe", "synthetic", "--batch-size", "8", "--json", "--quiet")
    assert code == 0 and json.loads(out.strip().splitlines()[-1])["n"] == 12
    batch = synthetic_batch(8, 0)
    torch.manual_seed(0)
    model = build_nb201("|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    value = load_proxy(path)(model, batch)
    assert isinstance(value, float) and value == value
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_eval_json_and_table(capsys, tmp_path):
    base = ["eval", "--benchmark", "synthetic", "--archs", "10", "--probe", "synthetic",
            "--batch-size", "8", "--quiet"]
    code, out, _ = run(capsys, *base, "--proxy", "layer_sum(l2(grad));params", "--json",
                       "--save", str(tmp_path / "s.csv"))
    doc = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and doc["n"] == 10 and doc["proxy"] == "layer_sum(l2(grad));params"
    assert doc["kendall"]["layer_sum(l2(grad))"] == pytest.approx(1.0) and set(doc["invalid"]) == {"layer_sum(l2(grad))", "params"}
    assert {"benchmark", "seconds", "spearman"} <= doc.keys()
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 11
    code, out, _ = run(capsys, *base, "--proxy", "snip")
    assert code == 0 and "kendall" in out and "10 architectures of synthetic" in out


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)")
def test_eval_save_on_a_full_disk_is_one_line(capsys):
    code, _, err = run(capsys, "eval", "--benchmark", "synthetic", "--archs", "4", "--probe", "synthetic",
                       "--batch-size", "8", "--quiet", "--proxy", "params", "--save", "/dev/full")
    last = err.strip().splitlines()[-1]   # after the banner lines (benchmark, probe, architectures)
    assert code == 2 and "Traceback" not in err and last.startswith("evoproxy: error: cannot write --save /dev/full")
    assert "free some space" in last


def test_unknown_benchmark_is_one_line(capsys):
    code, _, err = run(capsys, "eval", "--proxy", "snip", "--benchmark", "nb999")
    assert code == 2 and "unknown benchmark 'nb999'" in err and err.count("\n") == 1


def test_teacher_proxy_on_a_benchmark_without_teacher_is_one_line(capsys):
    code, out, err = run(capsys, "eval", "--proxy", "tvt", "--benchmark", "synthetic", "--archs", "3")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "needs teacher statistics" in err and "vit-" in err


def _commands(parser, prefix=""):
    """(name, parser) of every subcommand, nested ones (``bench build``) included."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub, helps.get(name)
                yield from _commands(sub, f"{prefix}{name} ")


def test_every_argument_of_every_command_says_what_it_does_and_its_default():
    """`--help` documents each argument: a help text, naming its default where it has one."""
    from evoproxy.cli import COMMANDS
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    for group in COMMANDS.values():
        if group.add.__module__.startswith("evoproxy.cli."):   # not a plugin's command from another test
            group.add(sub)
    missing, seen = [], set()
    for name, command, summary in _commands(parser):
        seen.add(name)
        if not summary:
            missing.append(f"{name}: no summary")
        for a in command._actions:
            if isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            arg = f"{name} {'/'.join(a.option_strings) or a.dest}"
            if not a.help or a.help == argparse.SUPPRESS:
                missing.append(f"{arg}: no help")
            elif a.default not in (None, False) and "default" not in a.help:
                missing.append(f"{arg}: help does not give the default {a.default!r}")
    assert {"search", "eval", "list", "report", "bench build", "data import"} <= seen
    assert not missing, missing


@pytest.mark.parametrize("command", ["search", "eval", "list"])
def test_help_texts_name_what_a_newcomer_asked_about(capsys, command):
    assert main([command, "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    wanted = {"search": ["--generations N generations to evolve", "--population N programs", "--seed SEED seeds"],
              "eval": ["--benchmark BENCHMARK the benchmark", "--archs ARCHS how many", "--split {search,holdout,all}"
                       " which networks"],
              "list": ["ops (with their type signatures)"]}[command]
    assert all(w in out for w in wanted), out
