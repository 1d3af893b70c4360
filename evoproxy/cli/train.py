"""``evoproxy train``: a CIFAR-10 ResNet from scratch, saved as a checkpoint."""
from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from evoproxy.app import train
from evoproxy.cli.registry import CommandGroup, add_data_dir, at_least, positive_number, register_commands


def cmd_train(args: argparse.Namespace) -> int:
    job = train.TrainJob(args.model, args.epochs, args.batch_size, args.lr, args.seed, args.limit, args.data_dir)
    out = args.out or f"{args.model}.pt"
    model = train.seeded_model(job)
    print(f"data: {train.describe_data_dir(args.data_dir)}", file=sys.stderr)
    data = train.load_data(job)
    print(f"{args.model}: {sum(p.numel() for p in model.parameters()):,} parameters; "
          f"{len(data[1])} train / {len(data[3])} test images, {args.epochs} epoch(s)", file=sys.stderr)
    steps = -(-len(data[1]) // args.batch_size)
    bar = tqdm(total=args.epochs * steps, desc=f"epoch 1/{args.epochs}", unit="batch", file=sys.stderr,
               disable=args.quiet)

    def on_batch(epoch: int, step: int, loss: float) -> None:
        bar.set_description(f"epoch {epoch}/{args.epochs}", refresh=False)
        bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
        bar.update(1)

    def on_epoch(epoch: int, m: dict) -> None:
        bar.set_postfix(loss=f"{m['train_loss']:.3f}", train_acc=f"{m['train_acc']:.1f}%")

    try:
        result = train.train(job, model, data, out, on_epoch=on_epoch, on_batch=on_batch)
    finally:
        bar.close()
    print(f"test accuracy: {result['test_acc']:.2f}% ({len(data[3])} test images) after {args.epochs} "
          f"epoch(s) in {result['seconds']:.1f} s\ncheckpoint: {out} (metadata {out}.json)")
    return 0


def add_commands(sub) -> None:
    p = sub.add_parser("train", help="train a CIFAR-10 network from scratch and save a checkpoint")
    p.add_argument("--model", default="resnet20", help="resnet8/14/20/32/44/56/110 or mobilenetv2 (default resnet20)")
    p.add_argument("--epochs", type=at_least(1), default=30, help="training epochs (default: 30)")
    p.add_argument("--limit", type=at_least(1), help="train on a seeded subset of N images (and test on at most N)")
    p.add_argument("--batch-size", type=at_least(1), default=128, help="training batch size (default: 128)")
    p.add_argument("--lr", type=positive_number, default=0.1, help="peak learning rate, cosine schedule (default: 0.1)")
    p.add_argument("--seed", type=at_least(0), default=0,
                   help="seeds init, data subset, shuffling and augmentation (default: 0)")
    p.add_argument("--out", help="checkpoint path (default MODEL.pt; a .json sidecar is written beside it)")
    add_data_dir(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


register_commands(CommandGroup("train", add_commands))
