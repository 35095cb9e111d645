"""Write data/production.csv: feature rows as a production service would log them (not a pipeline stage).

    python src/make_production.py                          # rows like the training data: no drift
    python src/make_production.py --shift "mean radius=2"  # that column moved by 2 standard deviations

The drift check compares this file with data/train.csv of the model in production.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sklearn.datasets import load_breast_cancer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shift", action="append", default=[], metavar="COLUMN=STD")
    parser.add_argument("--out", default="data/production.csv")
    args = parser.parse_args()

    features = load_breast_cancer(as_frame=True).data
    rows = features.sample(n=args.rows, replace=True, random_state=args.seed).reset_index(drop=True)
    for item in args.shift:
        column, _, std = item.rpartition("=")
        if column not in rows:
            parser.error(f"--shift: no column {column!r}; columns are: {', '.join(features.columns)}")
        rows[column] += float(std) * features[column].std()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(args.out, index=False)
    print(f"wrote {args.out}: {len(rows)} rows, shifted: {', '.join(args.shift) or 'none'}")


if __name__ == "__main__":
    main()
