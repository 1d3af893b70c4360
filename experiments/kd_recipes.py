"""Try a distillation recipe on a few ``cifar-vit`` students before building ``vit-kd-cifar10``.

The students are picked by params rank from the build's own plan (24 archs, seed 0), so a recipe
that spreads them by capacity can be spotted in minutes. Usage::

    python experiments/kd_recipes.py --students 0,6,12,23 --lr 3e-3 --batch-size 32 --epochs 6
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from evoproxy.benchmarks.checkpoints import load_teacher
from evoproxy.benchmarks.vit.build import SPACE, plan_archs
from evoproxy.training.distill import KDRecipe, augmented_views, teacher_logits, train_kd
from evoproxy.spaces.vit import build_vit, count_params
from evoproxy.training.loop import evaluate_accuracy
from evoproxy.data.cifar import load_cifar10


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", default="0,6,12,23", help="params ranks in the 24-arch plan")
    ap.add_argument("--lr", type=float, default=KDRecipe.lr, help=f"learning rate (default {KDRecipe.lr})")
    ap.add_argument("--batch-size", type=int, default=KDRecipe.batch_size,
                    help=f"training batch (default {KDRecipe.batch_size})")
    ap.add_argument("--epochs", type=int, default=KDRecipe.epochs, help=f"epochs (default {KDRecipe.epochs})")
    ap.add_argument("--train-images", type=int, default=KDRecipe.train_images,
                    help=f"CIFAR-10 training images (default {KDRecipe.train_images})")
    ap.add_argument("--views", type=int, default=KDRecipe.views, help="augmented views per image")
    ap.add_argument("--data-dir", help="the data directory (default: EVOPROXY_DATA, then ../shared/data)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    recipe = replace(KDRecipe(), lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
                     train_images=args.train_images, views=args.views)
    plan = sorted(plan_archs(24, 0), key=lambda a: count_params(build_vit(SPACE, a)))
    teacher, _ = load_teacher()
    x, y = load_cifar10("train", args.data_dir, limit=recipe.train_images, seed=recipe.data_seed)
    xt, yt = load_cifar10("test", args.data_dir, limit=recipe.test_images, seed=recipe.data_seed)
    x = augmented_views(x, recipe.views, recipe.data_seed)
    t_logits = teacher_logits(teacher, x)
    for rank in (int(v) for v in args.students.split(",")):
        torch.manual_seed(rank)
        start, student = time.perf_counter(), build_vit(SPACE, plan[rank])
        train_kd(student, x, y, t_logits, recipe, seed=rank)
        print(f"rank {rank:>2}  params {count_params(student):>8}  top1 {evaluate_accuracy(student, xt, yt):5.2f}"
              f"  {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
