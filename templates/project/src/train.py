"""Fit a StandardScaler + LogisticRegression pipeline; write model.pkl, metrics.json and plots/roc.csv.

Plain scikit-learn: nothing here knows about MLflow. mlops-bot reads params, metrics and plots through
DVC and logs them itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    params = yaml.safe_load(Path("params.yaml").read_text())["train"]
    train = pd.read_csv("data/train.csv")
    test = pd.read_csv("data/test.csv")
    x_train, y_train = train.drop(columns="target"), train["target"]
    x_test, y_test = test.drop(columns="target"), test["target"]

    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=float(params["C"]), max_iter=int(params["max_iter"]))
    )
    model.fit(x_train, y_train)

    predicted = model.predict(x_test)
    scores = model.predict_proba(x_test)[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(y_test, predicted)), 6),
        "f1": round(float(f1_score(y_test, predicted)), 6),
        "roc_auc": round(float(roc_auc_score(y_test, scores)), 6),
    }
    joblib.dump(model, "model.pkl")
    Path("metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    fpr, tpr, _ = roc_curve(y_test, scores)
    Path("plots").mkdir(exist_ok=True)
    pd.DataFrame({"fpr": fpr.round(6), "tpr": tpr.round(6)}).to_csv("plots/roc.csv", index=False)
    print(f"train: {metrics}")


if __name__ == "__main__":
    main()
