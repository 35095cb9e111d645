"""Fixture DVC projects in the shapes people have, each a real git + DVC repository built in a tmp folder.

None of them is the sample project and none imports mlflow or dvclive: each stage is plain scikit-learn that
writes its files in the shape the real tools write them. Each builder returns a `FixtureProject` whose
`config` is the `.github/mlops-bot.yml` a user would add, and nothing else about the pipeline is changed
for the bot.

- `evaluate_stage_project`: `train` fits a GradientBoosting model; a later `evaluate` stage writes the
  metrics and plots, declared in the top-level `metrics:` / `plots:` of dvc.yaml (CSV, TSV, YAML, two files
  overlaid in one chart).
- `dvclive_project`: the DVC get-started layout: a RandomForest, an `evaluate` stage writing what dvclive
  writes (`eval/metrics.json` nested per split, `{"roc": [...]}` per split, confusion-matrix rows with string
  labels, an image), top-level plots in the list form with `x`/`y` mappings.
- `pipeline_project`: a Pipeline with a ColumnTransformer (numbers scaled, a text column one-hot encoded),
  metrics and plots declared by the training stage itself.
- `dvc1_lock_project`: a project whose committed dvc.lock is in DVC 1.x's format.
"""

from __future__ import annotations

import json
import struct
import subprocess
import textwrap
import zlib
from dataclasses import dataclass
from pathlib import Path

from bot.adapters.dvc import init_repo
from bot.core.config import RepoConfig, load_config


@dataclass(frozen=True)
class FixtureProject:
    root: Path
    remote: Path
    model: str
    stage: str  # the stage that writes the model
    sha: str  # the commit holding the project (no dvc.lock yet: nothing has run)

    @property
    def config_text(self) -> str:
        return (self.root / ".github" / "mlops-bot.yml").read_text()

    @property
    def config(self) -> RepoConfig:
        return load_config(self.config_text)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def build(
    dest: Path, files: dict[str, str | bytes], *, model: str, stage: str, remote: Path
) -> FixtureProject:
    """`files` written under `dest`, `git init -b main`, `dvc init` with `remote` as default remote, committed."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    git(dest, "init", "-q", "-b", "main")
    remote.mkdir(parents=True, exist_ok=True)
    init_repo(dest, remote=remote)
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "A DVC project")
    return FixtureProject(
        root=dest, remote=remote, model=model, stage=stage, sha=git(dest, "rev-parse", "HEAD")
    )


# -- data: deterministic, pure Python, small ----------------------------------------------------------


def _rows(count: int, offset: int) -> list[tuple[float, float, float, str, int]]:
    rows = []
    for i in range(offset, offset + count):
        a = ((i * 37) % 101) / 10.0
        b = ((i * 53) % 89) / 10.0
        c = ((i * 11) % 23) / 2.0
        colour = ("red", "green", "blue")[(i * 7) % 3]
        score = a - b * 0.8 + (2.0 if colour == "red" else 0.0) + ((i * 13) % 7 - 3) * 0.6
        rows.append((a, b, c, colour, int(score > 1.0)))
    return rows


def _csv(rows: list[tuple[float, float, float, str, int]], *, with_colour: bool) -> str:
    header = "a,b,c,colour,label" if with_colour else "a,b,c,label"
    lines = [header]
    for a, b, c, colour, label in rows:
        lines.append(f"{a},{b},{c},{colour},{label}" if with_colour else f"{a},{b},{c},{label}")
    return "\n".join(lines) + "\n"


def _data(with_colour: bool) -> dict[str, str | bytes]:
    return {
        "data/train.csv": _csv(_rows(240, 0), with_colour=with_colour),
        "data/test.csv": _csv(_rows(120, 1000), with_colour=with_colour),
    }


def tiny_png(width: int = 4, height: int = 3) -> bytes:
    """A valid grey PNG, written without an imaging library (what matplotlib's savefig leaves, smaller)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + bytes([128] * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


_TRAIN_NUMERIC = _dedent(
    """
    import joblib
    import pandas as pd
    import yaml
    from sklearn.ensemble import {estimator}

    params = yaml.safe_load(open("params.yaml"))["train"]
    train = pd.read_csv("data/train.csv")
    model = {estimator}(n_estimators=int(params["n_estimators"]), max_depth=int(params["max_depth"]), random_state=0)
    model.fit(train[["a", "b", "c"]], train["label"])
    joblib.dump(model, "model.pkl")
    """
)

# -- (a) a downstream evaluate stage, top-level metrics and plots -------------------------------------

EVALUATE_STAGE_DVC_YAML = _dedent(
    """
    stages:
      train:
        cmd: python src/train.py
        deps:
          - src/train.py
          - data/train.csv
        params:
          - train
        outs:
          - model.pkl
      evaluate:
        cmd: python src/evaluate.py
        deps:
          - src/evaluate.py
          - model.pkl
          - data/train.csv
          - data/test.csv
        outs:
          - reports:
              cache: false
    metrics:
      - reports/scores.json
    plots:
      - reports/roc.csv:
          x: fpr
          y: tpr
          title: ROC curve (test split)
      - Precision-Recall:
          x: recall
          y:
            reports/prc_train.tsv: precision
            reports/prc_test.tsv: precision
          title: Precision and recall, train vs test
      - reports/calibration.yaml:
          x: predicted
          y: observed
    """
)

EVALUATE_STAGE_EVALUATE_PY = _dedent(
    """
    import json
    from pathlib import Path

    import joblib
    import pandas as pd
    import yaml
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import accuracy_score, precision_recall_curve, roc_auc_score, roc_curve

    model = joblib.load("model.pkl")
    out = Path("reports")
    out.mkdir(exist_ok=True)
    scores = {}
    for split in ("train", "test"):
        frame = pd.read_csv(f"data/{split}.csv")
        x, y = frame[["a", "b", "c"]], frame["label"]
        proba = model.predict_proba(x)[:, 1]
        precision, recall, _ = precision_recall_curve(y, proba)
        pd.DataFrame({"recall": recall.round(4), "precision": precision.round(4)}).to_csv(
            out / f"prc_{split}.tsv", sep="\\t", index=False
        )
        if split == "test":
            scores = {"accuracy": round(float(accuracy_score(y, model.predict(x))), 6),
                      "roc_auc": round(float(roc_auc_score(y, proba)), 6)}
            fpr, tpr, _ = roc_curve(y, proba)
            pd.DataFrame({"fpr": fpr.round(4), "tpr": tpr.round(4)}).to_csv(out / "roc.csv", index=False)
            observed, predicted = calibration_curve(y, proba, n_bins=5)
            rows = [{"predicted": round(float(p), 4), "observed": round(float(o), 4)}
                    for p, o in zip(predicted, observed)]
            (out / "calibration.yaml").write_text(yaml.safe_dump(rows))
    (out / "scores.json").write_text(json.dumps(scores, indent=2) + "\\n")
    print("evaluate:", scores)
    """
)


def evaluate_stage_project(dest: Path, *, remote: Path) -> FixtureProject:
    config = _dedent(
        """
        version: 1
        mlflow_experiment: evaluate-stage
        models:
          - name: churn-gb
            stage: train
            output: model.pkl
            metrics:
              - name: roc_auc
                min: 0.6
            training_data:
              - data/train.csv
        """
    )
    files: dict[str, str | bytes] = {
        **_data(with_colour=False),
        "dvc.yaml": EVALUATE_STAGE_DVC_YAML,
        "params.yaml": "train:\n  n_estimators: 20\n  max_depth: 2\n",
        "src/train.py": _TRAIN_NUMERIC.format(estimator="GradientBoostingClassifier"),
        "src/evaluate.py": EVALUATE_STAGE_EVALUATE_PY,
        ".github/mlops-bot.yml": config,
    }
    return build(dest, files, model="churn-gb", stage="train", remote=remote)


# -- (b) dvclive's shapes, DVC get-started layout --------------------------------------------------------

DVCLIVE_DVC_YAML = _dedent(
    """
    stages:
      train:
        cmd: python src/train.py
        deps:
          - src/train.py
          - data/train.csv
        params:
          - train
        outs:
          - model.pkl
      evaluate:
        cmd: python src/evaluate.py
        deps:
          - src/evaluate.py
          - model.pkl
          - data/train.csv
          - data/test.csv
        outs:
          - eval
    metrics:
      - eval/metrics.json
    plots:
      - ROC:
          template: simple
          x: fpr
          y:
            eval/plots/sklearn/roc/train.json: tpr
            eval/plots/sklearn/roc/test.json: tpr
      - Confusion-Matrix:
          template: confusion
          x: actual
          y:
            eval/plots/sklearn/cm/train.json: predicted
            eval/plots/sklearn/cm/test.json: predicted
      - eval/importance.png
    """
)

# What dvclive's Live.log_metric / log_sklearn_plot("roc"|"confusion_matrix") / log_image write, by hand.
DVCLIVE_EVALUATE_PY = _dedent(
    """
    import base64
    import json
    from pathlib import Path

    import joblib
    import pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    PNG = base64.b64decode("{png}")
    model = joblib.load("model.pkl")
    live = Path("eval")
    metrics = {{"avg_prec": {{}}, "roc_auc": {{}}}}
    for split in ("train", "test"):
        frame = pd.read_csv(f"data/{{split}}.csv")
        x, y = frame[["a", "b", "c"]], frame["label"]
        proba = model.predict_proba(x)[:, 1]
        metrics["avg_prec"][split] = round(float(average_precision_score(y, proba)), 6)
        metrics["roc_auc"][split] = round(float(roc_auc_score(y, proba)), 6)
        fpr, tpr, thresholds = roc_curve(y, proba, drop_intermediate=True)
        roc = {{"roc": [{{"fpr": round(float(f), 4), "tpr": round(float(t), 4), "threshold": round(float(h), 4)}}
                        for f, t, h in zip(fpr, tpr, thresholds)]}}
        (live / "plots" / "sklearn" / "roc").mkdir(parents=True, exist_ok=True)
        (live / "plots" / "sklearn" / "roc" / f"{{split}}.json").write_text(json.dumps(roc, indent=4))
        cm = [{{"actual": str(a), "predicted": str(p)}} for a, p in zip(y, model.predict(x))]
        (live / "plots" / "sklearn" / "cm").mkdir(parents=True, exist_ok=True)
        (live / "plots" / "sklearn" / "cm" / f"{{split}}.json").write_text(json.dumps(cm, indent=4))
    (live / "metrics.json").write_text(json.dumps(metrics, indent=4))
    (live / "importance.png").write_bytes(PNG)
    print("evaluate:", metrics)
    """
)


def dvclive_project(dest: Path, *, remote: Path, metrics_from: list[str] | None = None) -> FixtureProject:
    import base64

    sources = "" if metrics_from is None else f"    metrics_from: {json.dumps(metrics_from)}\n"
    config = (
        _dedent(
            """
            version: 1
            mlflow_experiment: dvclive
            models:
              - name: churn-rf
                stage: train
                output: model.pkl
                metrics:
                  - name: roc_auc.test
                    min: 0.6
            """
        )
        + sources
    )
    files: dict[str, str | bytes] = {
        **_data(with_colour=False),
        "dvc.yaml": DVCLIVE_DVC_YAML,
        "params.yaml": "train:\n  n_estimators: 10\n  max_depth: 3\n",
        "src/train.py": _TRAIN_NUMERIC.format(estimator="RandomForestClassifier"),
        "src/evaluate.py": DVCLIVE_EVALUATE_PY.format(png=base64.b64encode(tiny_png()).decode()),
        ".github/mlops-bot.yml": config,
    }
    return build(dest, files, model="churn-rf", stage="train", remote=remote)


# -- (c) a Pipeline with a ColumnTransformer ------------------------------------------------------------

PIPELINE_DVC_YAML = _dedent(
    """
    stages:
      train:
        cmd: python src/train.py
        deps:
          - src/train.py
          - data/train.csv
          - data/test.csv
        params:
          - train
        outs:
          - model.joblib
        metrics:
          - metrics.json:
              cache: false
        plots:
          - confusion.csv:
              template: confusion
              x: actual
              y: predicted
              cache: false
    """
)

PIPELINE_TRAIN_PY = _dedent(
    """
    import json

    import joblib
    import pandas as pd
    import yaml
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    params = yaml.safe_load(open("params.yaml"))["train"]
    train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
    features = ["a", "b", "c", "colour"]
    columns = ColumnTransformer(
        [("numbers", StandardScaler(), ["a", "b", "c"]), ("colour", OneHotEncoder(handle_unknown="ignore"), ["colour"])]
    )
    model = Pipeline([("columns", columns), ("classifier", LogisticRegression(C=float(params["C"])))])
    model.fit(train[features], train["label"])
    predicted = model.predict(test[features])
    metrics = {"accuracy": round(float(accuracy_score(test["label"], predicted)), 6),
               "f1": round(float(f1_score(test["label"], predicted)), 6)}
    joblib.dump(model, "model.joblib")
    json.dump(metrics, open("metrics.json", "w"), indent=2)
    pd.DataFrame({"actual": test["label"], "predicted": predicted}).to_csv("confusion.csv", index=False)
    print("train:", metrics)
    """
)


def pipeline_project(dest: Path, *, remote: Path) -> FixtureProject:
    config = _dedent(
        """
        version: 1
        mlflow_experiment: pipeline
        models:
          - name: churn-pipeline
            stage: train
            output: model.joblib
            metrics:
              - name: accuracy
                min: 0.6
            training_data:
              - data/train.csv
        """
    )
    files: dict[str, str | bytes] = {
        **_data(with_colour=True),
        "dvc.yaml": PIPELINE_DVC_YAML,
        "params.yaml": "train:\n  C: 1.0\n",
        "src/train.py": PIPELINE_TRAIN_PY,
        ".github/mlops-bot.yml": config,
    }
    return build(dest, files, model="churn-pipeline", stage="train", remote=remote)


# -- (7) a dvc.lock written by DVC 1.x ----------------------------------------------------------------------

DVC1_LOCK = _dedent(
    """
    train:
      cmd: python src/train.py
      deps:
      - path: data/train.csv
        md5: 0cc175b9c0f1b6a831c399e269772661
      outs:
      - path: model.joblib
        md5: 92eb5ffee6ae2fec3ad71c777531578f
    """
)


def dvc1_lock_project(dest: Path, *, remote: Path) -> FixtureProject:
    """The pipeline project with a DVC 1.x dvc.lock committed (stage names at the top level, no `schema`)."""
    project = pipeline_project(dest, remote=remote)
    (project.root / "dvc.lock").write_text(DVC1_LOCK)
    git(project.root, "add", "dvc.lock")
    git(project.root, "commit", "-q", "-m", "dvc.lock from DVC 1.x")
    return FixtureProject(
        root=project.root,
        remote=remote,
        model=project.model,
        stage=project.stage,
        sha=git(project.root, "rev-parse", "HEAD"),
    )


# -- (d) two models in one dvc.yaml, declared as DVC `artifacts:` of type model ------------------------------

ARTIFACTS_DVC_YAML = _dedent(
    """
    stages:
      train_churn:
        cmd: python src/train.py churn
        deps:
          - src/train.py
          - data/train.csv
          - data/test.csv
        params:
          - churn
        outs:
          - models/churn.pkl
        metrics:
          - metrics/churn.json:
              cache: false
      train_upsell:
        cmd: python src/train.py upsell
        deps:
          - src/train.py
          - data/train.csv
          - data/test.csv
        params:
          - upsell
        outs:
          - models/upsell.pkl
        metrics:
          - metrics/upsell.json:
              cache: false
    artifacts:
      churn:
        path: models/churn.pkl
        type: model
        desc: Who leaves
      upsell:
        path: models/upsell.pkl
        type: model
    """
)

ARTIFACTS_TRAIN_PY = _dedent(
    """
    import json
    import sys
    from pathlib import Path

    import joblib
    import pandas as pd
    import yaml
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    name = sys.argv[1]
    params = yaml.safe_load(open("params.yaml"))[name]
    train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
    features = ["a", "b", "c"]
    if name == "churn":
        model = LogisticRegression(C=float(params["C"]))
    else:
        model = RandomForestClassifier(n_estimators=int(params["n_estimators"]), random_state=0)
    model.fit(train[features], train["label"])
    Path("models").mkdir(exist_ok=True)
    Path("metrics").mkdir(exist_ok=True)
    joblib.dump(model, f"models/{name}.pkl")
    score = accuracy_score(test["label"], model.predict(test[features]))
    json.dump({"accuracy": round(float(score), 6)}, open(f"metrics/{name}.json", "w"), indent=2)
    """
)


def artifacts_project(dest: Path, *, remote: Path) -> FixtureProject:
    """Two models trained by two stages, each an `artifacts:` entry of type model (DVC's model registry)."""
    config = _dedent(
        """
        version: 1
        models:
          - name: churn
            stage: train_churn
            output: models/churn.pkl
            metrics: [{name: accuracy, min: 0.6}]
          - name: upsell
            stage: train_upsell
            output: models/upsell.pkl
            metrics: [{name: accuracy, min: 0.6}]
        """
    )
    files: dict[str, str | bytes] = {
        **_data(with_colour=False),
        "dvc.yaml": ARTIFACTS_DVC_YAML,
        "params.yaml": "churn:\n  C: 1.0\nupsell:\n  n_estimators: 10\n",
        "src/train.py": ARTIFACTS_TRAIN_PY,
        ".github/mlops-bot.yml": config,
    }
    return build(dest, files, model="churn", stage="train_churn", remote=remote)


def pure_wheel(folder: Path, name: str, code: str) -> Path:
    """A minimal pure-Python wheel, so the test needs no package index and no build tools."""
    import base64
    import hashlib
    import zipfile

    path = folder / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": code,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{file},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    with zipfile.ZipFile(path, "w") as wheel:
        for file, text in files.items():
            wheel.writestr(file, text)
    return path


# -- (e) stages that need a package only the project's own environment has ----------------------------------

VENV_TRAIN_PY = _dedent(
    """
    import json

    import joblib
    import onlyhere  # in the project's requirements.txt, not in the bot's environment
    import pandas as pd
    import yaml
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import accuracy_score

    params = yaml.safe_load(open("params.yaml"))["train"]
    train, test = pd.read_csv("data/train.csv"), pd.read_csv("data/test.csv")
    features = ["a", "b", "c"]
    model = RandomForestClassifier(n_estimators=int(params["n_estimators"]), random_state=onlyhere.SEED)
    model.fit(train[features], train["label"])
    joblib.dump(model, "model.pkl")
    score = accuracy_score(test["label"], model.predict(test[features]))
    json.dump({"accuracy": round(float(score), 6)}, open("metrics.json", "w"), indent=2)
    """
)

VENV_DVC_YAML = _dedent(
    """
    stages:
      train:
        cmd: python src/train.py
        deps:
          - src/train.py
          - data/train.csv
          - data/test.csv
        params:
          - train
        outs:
          - model.pkl
        metrics:
          - metrics.json:
              cache: false
    """
)

ONLYHERE_WHEEL = "vendor/onlyhere-1.0-py3-none-any.whl"


def venv_project(dest: Path, *, remote: Path) -> FixtureProject:
    """Stages importing `onlyhere`, a package only the project's requirements.txt names (a local wheel, so no
    index serves it); the rest of requirements.txt pins what the stages share with the bot at the bot's own
    versions, so the model the project's environment pickles loads where the bot serves it."""
    from importlib.metadata import version

    shared = ("scikit-learn", "pandas", "numpy", "scipy", "joblib", "threadpoolctl", "pyyaml")
    requirements = "".join(f"{name}=={version(name)}\n" for name in shared) + f"./{ONLYHERE_WHEEL}\n"
    config = "version: 1\ntraining:\n  python: requirements.txt\nmodels:\n  - name: churn-venv\n"
    files: dict[str, str | bytes] = {
        **_data(with_colour=False),
        "dvc.yaml": VENV_DVC_YAML,
        "params.yaml": "train:\n  n_estimators: 10\n",
        "src/train.py": VENV_TRAIN_PY,
        "requirements.txt": requirements,
        ".github/mlops-bot.yml": config + "    stage: train\n    output: model.pkl\n",
    }
    (dest / "vendor").mkdir(parents=True, exist_ok=True)
    pure_wheel(dest / "vendor", "onlyhere", "SEED = 7\n")
    return build(dest, files, model="churn-venv", stage="train", remote=remote)
