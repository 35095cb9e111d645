"""The smallest real model a promotion can register (one feature, two classes, pickled), and the dvc.lock
that pins it."""

from __future__ import annotations

from pathlib import Path


def tiny_model(folder: Path) -> Path:
    """`folder/model.pkl`: a fitted LogisticRegression on `x` -> `y`."""
    import joblib
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    data = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "y": [0, 0, 1, 1]})
    path = folder / "model.pkl"
    joblib.dump(LogisticRegression().fit(data[["x"]], data["y"]), path)
    return path


def one_stage_lock(output_hash: str) -> str:
    """A `dvc.lock` whose `train` stage pins `model.pkl` at `output_hash`: what a promotion looks up."""
    return f"""\
schema: '2.0'
stages:
  train:
    cmd: python train.py
    outs:
    - path: model.pkl
      hash: md5
      md5: {output_hash}
      size: 100
"""
