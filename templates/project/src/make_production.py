"""Write data/production.csv: rows as a production service would log them (not a pipeline stage).

    python src/make_production.py                          # rows like the training data: nothing fires
    python src/make_production.py --shift "mean radius=2"  # that column moved by 2 standard deviations: drift
    python src/make_production.py --labels --flip 0.3      # ground truth arrived, 30 % of it contradicts the
                                                           # model's world: accuracy drops
    python src/make_production.py --break "mean radius"    # text in a numeric column: a schema break

The scheduled check (`mlops-bot drift`) compares this file with data/train.csv of the model in production.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shift", action="append", default=[], metavar="COLUMN=STD")
    parser.add_argument("--labels", action="store_true", help="add the ground truth as column `target`")
    parser.add_argument(
        "--flip",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="with --labels: this share of labels is wrong",
    )
    parser.add_argument(
        "--break", dest="broken", action="append", default=[], metavar="COLUMN", help="write text into COLUMN"
    )
    parser.add_argument("--out", default="data/production.csv")
    args = parser.parse_args()

    dataset = load_breast_cancer(as_frame=True)
    features = dataset.data
    picked = features.sample(n=args.rows, replace=True, random_state=args.seed)
    rows = picked.reset_index(drop=True)
    for item in args.shift:
        column, _, std = item.rpartition("=")
        if column not in rows:
            parser.error(f"--shift: no column {column!r}; columns are: {', '.join(features.columns)}")
        rows[column] += float(std) * features[column].std()
    if args.labels:
        labels = dataset.target.loc[picked.index].to_numpy()
        wrong = np.random.default_rng(args.seed).random(args.rows) < args.flip
        rows["target"] = np.where(wrong, 1 - labels, labels)
    for column in args.broken:
        if column not in rows:
            parser.error(f"--break: no column {column!r}; columns are: {', '.join(features.columns)}")
        rows[column] = rows[column].astype(object)
        rows.loc[rows.index[::4], column] = "n.a."  # a sensor fault logged as text in every fourth row
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out, index=False)
    print(
        f"wrote {args.out}: {len(rows)} rows, shifted: {', '.join(args.shift) or 'none'}, "
        f"labels: {'yes' if args.labels else 'no'}"
        + (f" ({args.flip:.0%} wrong)" if args.labels and args.flip else "")
        + (f", broken: {', '.join(args.broken)}" if args.broken else "")
    )


if __name__ == "__main__":
    main()
