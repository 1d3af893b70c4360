"""Kendall tau of each proxy column of an ``evoproxy eval --save`` CSV, plain and with a control held fixed.

Usage: ``python experiments/partial_tau.py scores.csv [--control params]``
"""
from __future__ import annotations

import argparse
import csv

import numpy as np

from evoproxy.scoring import fitness


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="an `evoproxy eval --save` file")
    ap.add_argument("--control", default="params", help="the column held fixed")
    args = ap.parse_args()
    with open(args.csv, newline="") as f:
        rows = list(csv.DictReader(f))
    column = lambda name: np.array([float(r[name]) for r in rows])
    acc, z = column("accuracy"), column(args.control)
    print(f"{'proxy':<28} tau    partial  tau-with-{args.control}")
    for name in list(rows[0])[2:]:
        s = column(name)
        tau, tau_z = fitness.kendall(s, acc), fitness.kendall(s, z)
        print(f"{name:<28} {tau:.3f}  {fitness.partial_correlation(tau, tau_z, fitness.kendall(acc, z)):.3f}    {tau_z:.3f}")


if __name__ == "__main__":
    main()
