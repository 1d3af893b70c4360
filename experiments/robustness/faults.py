"""Every fault of issue 13 that runs without a Ray cluster, as (name, outcome) for fuzz.py.

A case returns ``ok`` / ``one line`` when evoproxy behaves, ``traceback`` or ``lost`` when it does
not (a case that raises counts as a traceback; fuzz.py counts a hang). The Ray faults (a token-auth
cluster, ``ray job submit``, a plugin benchmark on workers) need a cluster: tests/backends/test_ray.py and
tests/app/test_plugins.py run them.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sqlite3
from contextlib import redirect_stderr
from pathlib import Path

import torch
from torch import nn

from evoproxy import load_proxy
from evoproxy.cli import main
from evoproxy.errors import EvoproxyError
from evoproxy.evolve.store.lock import RunLock

CONFIG = "experiments/synthetic.toml"
EVAL = ["eval", "--proxy", "params", "--benchmark", "synthetic", "--quiet"]
LONG = "add(" * 20 + "layer_sum(l2(grad))" + ", params)" * 20


def cli(argv: list[str], expect: int | None = 2) -> str:
    """``one line`` / ``ok`` when the command exits as expected (None: 0 or 2) and prints no traceback."""
    err = io.StringIO()
    with redirect_stderr(err):
        code = main(argv)
    lines = err.getvalue().strip().splitlines()
    if any("Traceback" in ln for ln in lines) or code not in ((0, 2) if expect is None else (expect,)):
        return "traceback"
    if code == 0:
        return "ok"
    return "one line" if lines and lines[-1].startswith("evoproxy: error:") else "traceback"


def argument_faults(tmp: Path) -> dict:
    bad_args = {"--seed -1": EVAL + ["--seed", "-1"], "--device nosuch": EVAL + ["--device", "nosuch"],
                "--device cuda without CUDA": EVAL + ["--device", "cuda:0"], "--save a directory": EVAL + ["--save", str(tmp)],
                "--archs suite-zero on synthetic": EVAL + ["--archs", "suite-zero"], "--archs 0": EVAL + ["--archs", "0"],
                "--archs 1": EVAL + ["--archs", "1"], "eval --batch-size 0": EVAL + ["--batch-size", "0"],
                "--backend ray --workers 0": ["search", "--backend", "ray", "--workers", "0"],
                "train --batch-size 0": ["train", "--batch-size", "0"], "train --lr inf": ["train", "--lr", "inf"],
                "allocate --population 0": ["allocate", "--proxy", "params", "--population", "0", "--budget-mb", "1"],
                "allocate --budget-mb nan": ["allocate", "--proxy", "params", "--budget-mb", "nan"],
                "show a 1 MB formula": ["show", "add(" * 250_000],
                "show a formula nested 5,000 deep": ["show", "log(" * 5000 + "params" + ")" * 5000]}
    cases = {name: (lambda a=argv: cli(a)) for name, argv in bad_args.items()}
    cases["show a formula longer than a file name"] = lambda: cli(["show", LONG], expect=0)
    return cases


def config_faults(tmp: Path) -> dict:
    """A bad config is one line and leaves no run directory behind (else: lost)."""
    def case(setting: str, k: int):
        out = tmp / f"cfg{k}"
        got = cli(["search", "--config", CONFIG, "--quiet", "--set", setting, "--out", str(out)])
        return "lost" if out.exists() else got
    bad = ['fitness="x"', "generations=2.5", "population=20.5", "seed=-1", 'seed="abc"', "seed=1979-05-27",
           "threads=0", "timeout_s=-1", "stats=[]", "ops=[]", "benchmarks=[]", "max_depth=-1",
           'baselines=["nosuch"]', 'stats=["nosuch"]']
    cases = {f"--set {b}": (lambda b=b, k=k: case(b, k)) for k, b in enumerate(bad)}

    def non_utf8():
        (tmp / "bad.toml").write_bytes(b"population = 4\n# \xff\xfe\n")
        return cli(["search", "--config", str(tmp / "bad.toml"), "--out", str(tmp / "u8")])
    cases["a non-UTF-8 TOML"] = non_utf8
    return cases


def _digest(run: Path) -> str:
    return hashlib.sha256((run / "run.sqlite").read_bytes()).hexdigest()


def run_store_faults(tmp: Path) -> dict:
    run = tmp / "finished"
    assert cli(["search", "--config", CONFIG, "--quiet", "--generations", "2", "--out", str(run)], 0) == "ok"

    def resume_finished():
        before = _digest(run)
        got = cli(["search", "--resume", str(run), "--quiet"], expect=0)
        return "lost" if _digest(run) != before else got

    def second_writer():
        lock = RunLock(run)
        try:
            return cli(["search", "--resume", str(run), "--generations", "3", "--quiet"])
        finally:
            lock.release()

    def damaged(how: str):
        copy = tmp / f"damaged-{how}"
        shutil.copytree(run, copy)
        if how == "garbage mid-file":
            data = bytearray((copy / "run.sqlite").read_bytes())
            data[len(data) // 3:len(data) // 3 + 8192] = b"\x42" * 8192
            (copy / "run.sqlite").write_bytes(bytes(data))
        else:
            with sqlite3.connect(copy / "run.sqlite") as conn:
                conn.execute({"config": "UPDATE meta SET value='{bad' WHERE key='config'",
                              "population": "UPDATE generations SET population='[{\"x\": 1}]'",
                              "state": "UPDATE generations SET state='[1, 2'"}[how])
        argvs = (["export", str(copy)], ["search", "--resume", str(copy), "--generations", "4", "--quiet"])
        outcomes = {cli(argv, expect=None) for argv in argvs}   # export may not read the damaged row
        return "traceback" if "traceback" in outcomes or "one line" not in outcomes else "one line"
    cases = {"--resume a finished run": resume_finished, "two writers of one run": second_writer,
             "--resume R --config other.toml": lambda: cli(["search", "--resume", str(run), "--config", CONFIG]),
             "export --top 0": lambda: cli(["export", str(run), "--top", "0"])}
    for how in ("garbage mid-file", "config", "population", "state"):
        cases[f"run.sqlite damaged: {how}"] = lambda how=how: damaged(how)
    return cases


def _rows(path: Path) -> list:
    with open(path, newline="") as f:
        return list(csv.reader(f))


def save_faults(tmp: Path) -> dict:
    save = tmp / "scores.csv"
    base = EVAL + ["--archs", "6", "--save", str(save)]

    def other_split():
        cli(base + ["--split", "search"], expect=0)
        first = _rows(save)
        got = cli(base + ["--split", "holdout"], expect=0)
        return "lost" if _rows(save)[:len(first)] != first else got

    def empty_value():
        rows = _rows(save)
        rows[-1][2] = ""
        with open(save, "w", newline="") as f:
            csv.writer(f).writerows(rows)
        got = cli(base + ["--split", "holdout"], expect=0)
        return got if _rows(save)[-1][2] not in ("", None) else "lost"

    def other_columns():
        other = tmp / "other.csv"
        other.write_text("arch_id,accuracy,synflow\n1,2,3\n")
        got = cli(EVAL + ["--archs", "6", "--save", str(other)])
        return got if _rows(other)[1] == ["1", "2", "3"] else "lost"
    return {"eval --save, another --split": other_split, "eval --save, a row with an empty value": empty_value,
            "eval --save onto a file with other columns": other_columns}


def proxy_file_faults(tmp: Path) -> dict:
    docs = {"formula: 123": {"formula": 123}, "direction: true": {"formula": "params", "direction": True},
            "a list where an op name belongs": {"tree": {"op": ["add"], "args": [{"stat": "params"}]}},
            "a 400-digit constant": {"tree": {"const": 10 ** 400}}, "a list, not an object": [1, 2],
            "JSON nested 5,000 deep": None}

    def show(name, doc):
        path = tmp / "p.json"
        deep = '{"tree": ' + '{"op": "log", "args": [' * 5000 + '{"stat": "params"}' + "]}" * 5000 + "}"
        path.write_text(deep if doc is None else json.dumps(doc))
        return cli(["show", str(path)])
    return {f"proxy JSON: {n}": (lambda n=n, d=d: show(n, d)) for n, d in docs.items()}


def teacher_faults(tmp: Path) -> dict:
    from evoproxy.benchmarks.checkpoints import load_teacher
    from evoproxy.spaces.cifar_models import build_model
    from evoproxy.training.checkpoint import save_checkpoint
    bad = tmp / "teacher.pt"
    save_checkpoint(bad, build_model("resnet8"), {"arch": "resnet20"})
    argv = ["eval", "--benchmark", "vit-kd-cifar10", "--proxy", "params", "--archs", "2", "--quiet"]

    def via_env():
        load_teacher.cache_clear()
        os.environ["EVOPROXY_TEACHER"] = str(bad)
        try:
            return cli(argv)
        finally:
            del os.environ["EVOPROXY_TEACHER"]
    return {"a teacher that does not fit, --teacher": lambda: cli(argv + ["--teacher", str(bad)]),
            "a teacher that does not fit, EVOPROXY_TEACHER": via_env}


def _user_network(build, formula: str, batch, expect: str) -> str:
    torch.manual_seed(0)
    try:
        value = load_proxy(formula)(build(), batch)
    except EvoproxyError:
        return "one line" if expect == "one line" else "traceback"
    return "ok" if expect == "ok" and value == value else "traceback"


class _Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb, self.attn, self.norm = nn.Embedding(50, 16), nn.MultiheadAttention(16, 4), nn.LayerNorm(16)
        self.head = nn.Linear(16, 10)

    def forward(self, t):
        h = self.emb(t.T)
        return self.head(self.norm(h + self.attn(h, h, h)[0]).mean(0))


class _Dict(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        return {"logits": self.fc(x)}


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.head = nn.Linear(8, 8), nn.Linear(8, 10)

    def forward(self, x):
        return self.head(self.fc(self.fc(x)))


def network_faults(tmp: Path) -> dict:
    vec = (torch.randn(4, 8), torch.arange(4))
    tokens = (torch.randint(0, 50, (4, 7)), torch.arange(4))
    seq = (torch.randn(4, 3, 20), torch.arange(4))
    conv1d = lambda: nn.Sequential(nn.Conv1d(3, 8, 5), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(8, 10))
    cases = {"load_proxy on Conv1d": (conv1d, "snip", seq, "ok"),
             "load_proxy on Embedding + MultiheadAttention + LayerNorm": (_Tokens, "layer_sum(l2(act))", tokens, "ok"),
             "load_proxy on an LSTM": (lambda: nn.LSTM(8, 8), "snip", vec, "one line"),
             "load_proxy on a GRU": (lambda: nn.GRU(8, 8), "snip", vec, "one line"),
             "load_proxy on LayerNorm only": (lambda: nn.Sequential(nn.LayerNorm(8)), "snip", vec, "one line"),
             "load_proxy on a model returning a dict": (_Dict, "snip", vec, "one line"),
             "load_proxy, act of a Linear used twice": (_Shared, "layer_sum(l2(act))", vec, "ok")}
    out = {name: (lambda c=c: _user_network(*c)) for name, c in cases.items()}
    out["matmul(virtual_grad, weight) computes"] = lambda: _user_network(
        conv1d, "layer_sum(sum(matmul(virtual_grad, weight)))", seq, "ok")
    out["synflow on a 1,202-layer ResNet is finite"] = _deep_synflow
    return out


def _deep_synflow() -> str:
    import math
    from evoproxy.spaces.resnet_cifar import resnet_cifar
    torch.manual_seed(0)
    value = load_proxy("synflow")(resnet_cifar(depth=1202, num_classes=10), (torch.randn(2, 3, 32, 32), torch.arange(2)))
    return "ok" if math.isfinite(value) else "traceback"


GROUPS = (argument_faults, config_faults, run_store_faults, save_faults, proxy_file_faults, teacher_faults,
          network_faults)


def run_all(tmp: Path, bound, groups=GROUPS) -> list[tuple[str, str]]:
    """(name, outcome) for every fault of ``groups``; ``bound(fn)`` runs one case under a time limit."""
    results = []
    for group in groups:
        folder = tmp / group.__name__
        folder.mkdir()
        for name, case in group(folder).items():
            try:
                outcome = bound(case)
            except Exception as e:  # noqa: BLE001  (a hang arrives as the caller's exception)
                outcome = "hang" if type(e).__name__ == "Hang" else "traceback"
            results.append((name, outcome))
    return results
