"""The train use case: a CIFAR-10 network from scratch, saved as a checkpoint with its provenance."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from evoproxy import __version__
from evoproxy.data.cifar import load_cifar10, pack_path
from evoproxy.data.paths import describe_data_dir

__all__ = ["TrainJob", "seeded_model", "load_data", "train", "describe_data_dir"]
from evoproxy.spaces.cifar_models import build_model
from evoproxy.training.checkpoint import save_checkpoint, sha256_file
from evoproxy.training.loop import train_model


@dataclass(frozen=True)
class TrainJob:
    model: str = "resnet20"
    epochs: int = 30
    batch_size: int = 128
    lr: float = 0.1
    seed: int = 0
    limit: Optional[int] = None
    data_dir: Optional[str] = None

    def command(self) -> str:
        words = ["evoproxy", "train", "--model", self.model, "--epochs", str(self.epochs),
                 "--batch-size", str(self.batch_size), "--lr", repr(self.lr), "--seed", str(self.seed)]
        return " ".join(words + (["--limit", str(self.limit)] if self.limit is not None else []))


def seeded_model(job: TrainJob) -> torch.nn.Module:
    """The untrained network under ``job.seed`` (an unknown name fails before any data is read);
    the training and test packs are checked to exist as well."""
    torch.manual_seed(job.seed)
    model = build_model(job.model)
    for split in ("train", "test"):
        pack_path(split, job.data_dir)
    return model


def load_data(job: TrainJob) -> tuple:
    """``(x_train, y_train, x_test, y_test)``: the seeded subsets (or the whole sets) decoded."""
    x_tr, y_tr = load_cifar10("train", job.data_dir, job.limit, job.seed)
    test_limit = None if job.limit is None else min(job.limit, 10000)
    x_te, y_te = load_cifar10("test", job.data_dir, test_limit, job.seed)
    return x_tr, y_tr, x_te, y_te


def train(job: TrainJob, model: torch.nn.Module, data: tuple, out: str,
          on_epoch: Optional[Callable] = None, on_batch: Optional[Callable] = None) -> dict:
    """Train ``model`` on ``data`` and save it to ``out`` (with a ``.json`` sidecar); the result."""
    result = train_model(model, *data, job.epochs, job.batch_size, job.lr, seed=job.seed,
                         on_epoch=on_epoch, on_batch=on_batch)
    packs = {s: pack_path(s, job.data_dir) for s in ("train", "test")}
    meta = {"arch": job.model, "num_classes": 10,
            "epochs": job.epochs, "batch_size": job.batch_size, "lr": job.lr, "weight_decay": 5e-4,
            "seed": job.seed, "limit": job.limit, "n_train": len(data[1]), "n_test": len(data[3]),
            "test_acc": result["test_acc"], "train_loss": result["train_loss"],
            "seconds": round(result["seconds"], 2), "command": job.command(),
            "data": {s: {"file": p.name, "sha256": sha256_file(p)} for s, p in packs.items()},
            "evoproxy": __version__, "torch": str(torch.__version__)}
    save_checkpoint(out, model, meta)
    return result
