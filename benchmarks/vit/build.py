"""Build the ``vit-kd-cifar10`` table: small ViT students distilled from the CIFAR-10 teacher.

Students are drawn from the ``cifar-vit`` space spread evenly over parameter count, each is
trained with :func:`evoproxy.training.distill.train_kd` on a seeded CIFAR-10 subset, and its test top-1
is appended to the CSV as soon as it finishes, so an interrupted build resumes (see
:mod:`evoproxy.benchmarks.tables`). The sidecar records teacher checksum, seeds and recipe.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np
import torch

from evoproxy.training.distill import KDRecipe

from ..checkpoints import load_teacher
from ..tables import append_row, read_table, resume_table

PathLike = Union[str, os.PathLike]
COLUMNS = ("id", "arch", "params", "macs_m", "top1")
SPACE = "cifar-vit"
POOL_PER_ARCH = 20


def plan_archs(k: int, seed: int) -> list[dict]:
    """``k`` distinct ``cifar-vit`` architectures, one per equal-width params bin, in seeded order."""
    from evoproxy.errors import EvoproxyError
    from evoproxy.spaces.vit import build_vit, canonical, count_params, sample_arch

    if k < 1:
        raise EvoproxyError(f"--configs must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    pool = {canonical(a): a for a in (sample_arch(SPACE, rng) for _ in range(POOL_PER_ARCH * k))}
    archs = list(pool.values())
    params = np.array([count_params(build_vit(SPACE, a)) for a in archs])
    edges = np.linspace(params.min(), params.max(), k + 1)
    chosen: dict[str, dict] = {}
    for b in range(k):
        free = [i for i in rng.permutation(len(archs)) if canonical(archs[i]) not in chosen]
        inside = [i for i in free if edges[b] <= params[i] <= edges[b + 1]]
        pick = inside[0] if inside else min(free, key=lambda i: abs(params[i] - edges[b]), default=None)
        if pick is not None:
            chosen[canonical(archs[pick])] = archs[pick]
    plan = list(chosen.values())
    return [plan[i] for i in rng.permutation(len(plan))]


def read_rows(path: Path) -> list[dict]:
    return read_table(path, COLUMNS, "a vit-kd table")


def build_vit_table(out: PathLike, k: int, seed: int = 0, recipe: KDRecipe = KDRecipe(),
                    teacher_path: Optional[PathLike] = None, data_dir: Optional[PathLike] = None,
                    command: str = "", on_row: Optional[Callable[[int, int, dict], None]] = None,
                    jobs: int = 1) -> Path:
    """Build (or continue) the table at ``out``; ``on_row(done, total, row)`` after each student.

    ``jobs > 1`` trains that many students at once, each in its own single-threaded process;
    every student is seeded by its id, so the rows do not depend on ``jobs``.
    """
    from evoproxy.training.distill import augmented_views, teacher_logits
    from evoproxy.errors import EvoproxyError
    from evoproxy.data.cifar import load_cifar10


    if jobs < 1:
        raise EvoproxyError(f"--jobs must be >= 1, got {jobs}")
    out = Path(out)
    teacher, key = load_teacher(None if teacher_path is None else str(teacher_path))
    prov = {"benchmark": "vit-kd-cifar10", "configs": k, "seed": seed, "space": SPACE, "teacher": key,
            "recipe": recipe.as_dict(), "command": command, "torch": torch.__version__}
    done = resume_table(out, prov, COLUMNS, "a vit-kd table")
    plan = plan_archs(k, seed)
    todo = [(i, arch) for i, arch in enumerate(plan) if i not in done]
    if not todo:
        return out
    x_tr, y_tr = load_cifar10("train", data_dir, limit=recipe.train_images, seed=recipe.data_seed)
    x_tr = augmented_views(x_tr, recipe.views, recipe.data_seed)
    data = {"x": x_tr, "y": y_tr, "t": teacher_logits(teacher, x_tr).numpy()}
    data["xt"], data["yt"] = load_cifar10("test", data_dir, limit=recipe.test_images, seed=recipe.data_seed)
    rows = _train_parallel(todo, seed, recipe, data, jobs) if jobs > 1 else (
        _student_row(i, arch, seed, recipe, data) for i, arch in todo)
    for row in rows:
        append_row(out, row)
        done.add(row[0])
        if on_row is not None:
            on_row(len(done), len(plan), dict(zip(COLUMNS, row)))
    return out


def _student_row(i: int, arch: dict, seed: int, recipe: KDRecipe, data: dict) -> list:
    """Train student ``i`` (seeded by its id) and return its table row."""
    from evoproxy.training import distill
    from evoproxy.spaces.vit import build_vit, canonical, count_params, vit_flops
    from evoproxy.training.loop import evaluate_accuracy

    torch.manual_seed(seed * 100_003 + i)
    student = build_vit(SPACE, arch)
    distill.train_kd(student, data["x"], data["y"], torch.from_numpy(data["t"]), recipe, seed=seed + i)
    top1 = evaluate_accuracy(student, data["xt"], data["yt"])
    return [i, canonical(arch), count_params(student), f"{vit_flops(arch, SPACE) / 1e6:.3f}", f"{top1:.2f}"]


_WORKER_DATA: dict = {}


def _init_worker(folder: str) -> None:
    torch.set_num_threads(1)
    _WORKER_DATA.update({p.stem: np.load(p) for p in Path(folder).glob("*.npy")})


def _worker_row(i: int, arch: dict, seed: int, recipe: KDRecipe) -> list:
    return _student_row(i, arch, seed, recipe, _WORKER_DATA)


def _train_parallel(todo: list, seed: int, recipe: KDRecipe, data: dict, jobs: int):
    """Rows as students finish, largest first; the data reach the workers as .npy files."""
    import multiprocessing
    import tempfile
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from evoproxy.spaces.vit import build_vit, count_params

    todo = sorted(todo, key=lambda t: -count_params(build_vit(SPACE, t[1])))
    with tempfile.TemporaryDirectory(prefix="evoproxy-vit-") as folder:
        for name, array in data.items():
            np.save(Path(folder) / f"{name}.npy", array)
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(folder,))
        try:
            futures = [pool.submit(_worker_row, i, arch, seed, recipe) for i, arch in todo]
            for future in as_completed(futures):
                yield future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
