"""Split scikit-learn's breast-cancer dataset into data/train.csv and data/test.csv.

Columns: the 30 feature columns of the dataset, then `target` (1 = benign, 0 = malignant).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import yaml
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())
    prepare, snapshot = params["prepare"], str(params["data"]["snapshot"])
    # A new snapshot stands for new data: it moves the split so the stage really produces new rows.
    seed = (int(prepare["seed"]) + zlib.crc32(snapshot.encode())) % 2**32

    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(
        frame, test_size=float(prepare["test_size"]), random_state=seed, stratify=frame["target"]
    )
    Path("data").mkdir(exist_ok=True)
    train.to_csv("data/train.csv", index=False)
    test.to_csv("data/test.csv", index=False)
    print(f"prepare: snapshot {snapshot}: {len(train)} training rows, {len(test)} test rows")


if __name__ == "__main__":
    main()
