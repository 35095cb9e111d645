"""A real BentoML build from a real MLflow registry version, served on loopback and asked for predictions;
the service records its traffic, takes labels back, and the monitoring check reads both."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.bentoml import (
    NO_DOCKER_NOTE,
    BentoResult,
    bento_name,
    build_service,
    docker_available,
    pinned_packages,
    render_sources,
    serve,
    traffic_packages,
)

MODEL = "Breast-Cancer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A sqlite MLflow registry with one sklearn pipeline as MODEL v1, alias champion: (uri, version)."""
    import mlflow
    import sklearn
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment("bento", artifact_location=(root / "artifacts").as_uri())
        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_metric(
                "accuracy", float(model.score(x, y))
            )  # what the performance check compares with
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                registered_model_name=MODEL,
            )
        version = str(info.registered_model_version)
        mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", version)
        yield uri, version
    finally:
        mlflow.set_tracking_uri(previous)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the built service records its traffic (drift.traffic.location)."""
    return tmp_path_factory.mktemp("traffic")


@pytest.fixture(scope="module")
def built(
    registry: tuple[str, str], traffic: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[BentoResult, Path]:
    uri, version = registry
    home = tmp_path_factory.mktemp("bentoml-home")
    result = build_service(
        model_name=MODEL,
        version=version,
        model_uri=f"models:/{MODEL}@champion",
        tracking_uri=uri,
        git_sha="0123456789abcdef0123456789abcdef01234567",
        out_dir=tmp_path_factory.mktemp("dist"),
        bentoml_home=home,
        traffic={"location": traffic.as_uri(), "flush_seconds": 0.2},
    )
    return result, home


@pytest.mark.slow
def test_build_exports_a_self_contained_bento(built: tuple[BentoResult, Path]) -> None:
    result, home = built
    assert result.tag.startswith("breast-cancer:")
    export = Path(result.export_path)
    assert export.name == "breast-cancer-1.bento"
    with tarfile.open(export) as archive:
        names = archive.getnames()
    assert any(n.endswith("MLmodel") for n in names), "the exported bento must carry the model"
    assert any(n.endswith("src/service.py") for n in names)

    bento_dir = home / "bentos" / "breast-cancer" / result.tag.split(":")[1]
    bento = yaml.safe_load((bento_dir / "bento.yaml").read_text())
    assert bento["labels"] == {
        "owner": "mlops-bot",
        "mlflow_model": MODEL,
        "mlflow_version": "1",
        "git_sha": "0123456789abcdef0123456789abcdef01234567",
    }
    requirements = (bento_dir / "env" / "python" / "requirements.txt").read_text().splitlines()
    import sklearn

    assert f"scikit-learn=={sklearn.__version__}" in requirements
    assert all("==" in r for r in requirements if r.strip())
    # lock_packages: false -> no network resolution, no uv installed into our venv
    assert not (bento_dir / "env" / "python" / "requirements.lock.txt").exists()


@pytest.mark.slow
def test_a_model_whose_name_rich_prints_as_an_emoji_builds(registry: tuple[str, str], tmp_path: Path) -> None:
    # `bentoml build -o tag` prints `__tag__:m:<version>` through Rich, which turns `:m:` into an emoji.
    uri, version = registry
    result = build_service(model_name="M", version=version, model_uri=f"models:/{MODEL}@champion",
                           tracking_uri=uri, git_sha="0" * 40, out_dir=tmp_path / "dist",
                           bentoml_home=tmp_path / "home")  # fmt: skip
    assert result.tag.startswith("m:"), result.tag
    assert Path(result.export_path).is_file()


@pytest.mark.slow
def test_containerize_is_skipped_without_a_docker_daemon(built: tuple[BentoResult, Path]) -> None:
    result, _ = built
    if docker_available():
        pytest.skip("a Docker daemon answers here; the skip path is what this test covers")
    assert result.containerized is False
    assert result.note == NO_DOCKER_NOTE


@pytest.mark.slow
def test_served_bento_predicts_what_the_registry_model_predicts(
    registry: tuple[str, str],
    built: tuple[BentoResult, Path],
    traffic: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import httpx
    import mlflow
    from sklearn.datasets import load_breast_cancer

    uri, version = registry
    result, home = built
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    sample = x.iloc[::40]  # both classes appear in these 15 rows
    mlflow.set_tracking_uri(uri)
    expected = [int(v) for v in mlflow.pyfunc.load_model(f"models:/{MODEL}@champion").predict(sample)]
    assert len(set(expected)) == 2
    live, truth = shifted_traffic(x, y)

    with serve(result.tag, port=free_port(), bentoml_home=home, timeout=90) as base:
        by_rows = httpx.post(f"{base}/predict", json={"rows": sample.to_numpy().tolist()}, timeout=30)
        by_records = httpx.post(
            f"{base}/predict", json={"records": sample.to_dict(orient="records")}, timeout=30
        )
        info = httpx.post(f"{base}/model_info", json={}, timeout=30)
        both = httpx.post(f"{base}/predict", json={}, timeout=30)
        short = httpx.post(f"{base}/predict", json={"rows": [[1.0, 2.0]]}, timeout=30)
        # live traffic, then its labels: one per row, one repeated, one for an id never served
        answered = httpx.post(
            f"{base}/predict",
            json={"records": live.to_dict(orient="records")},
            headers={"X-Request-Id": "live"},
            timeout=30,
        )
        ids = answered.headers["X-Request-Id"].split(",")
        feedback = httpx.post(
            f"{base}/feedback",
            json={"request_ids": [*ids, ids[0], "never-served"], "labels": [*truth, truth[0], 1]},
            timeout=30,
        )
        uneven = httpx.post(f"{base}/feedback", json={"request_ids": ["a"], "labels": []}, timeout=30)
        logged = wait_for_rows(traffic, 2 * len(sample) + len(live))
        metrics = httpx.get(f"{base}/metrics", timeout=30).text

    assert by_rows.status_code == 200, by_rows.text
    assert by_rows.json() == expected
    assert by_records.json() == expected
    assert info.json()["mlflow_version"] == version
    assert info.json()["features"] == list(x.columns)
    assert both.status_code == 400 and "exactly one of `rows`" in both.text
    assert short.status_code == 400 and "row 0 has 2 values; the model takes 30" in short.text

    assert answered.status_code == 200 and len(answered.json()) == len(live)
    assert ids == [f"live-{i}" for i in range(len(live))]
    assert feedback.json() == {"stored": len(live) + 2}
    assert uneven.status_code == 400 and "1 request id(s) but 0 label(s)" in uneven.text
    assert 'mlops_bot_traffic_log_dropped_rows_total{reason="queue-full"} 0.0' in metrics
    # what was logged: every row answered, with its prediction, probabilities and the version that answered
    assert logged == 2 * len(sample) + len(live)
    rows = read_logged(traffic)
    assert set(rows["model_version"]) == {version}
    by_id = rows.set_index("request_id")
    assert list(by_id.loc[ids, "prediction"]) == answered.json()
    assert ((by_id["proba_0"] + by_id["proba_1"]).round(6) == 1).all()

    capsys.readouterr()
    check_served_traffic(traffic, live, uri, tmp_path, monkeypatch)
    assert "  performance: drop: accuracy" in capsys.readouterr().out  # what the check's log says


def shifted_traffic(x: Any, y: Any) -> tuple[Any, list[int]]:
    """Every other row with two columns moved by two standard deviations, and labels of which a third are
    wrong: a changed world the champion no longer fits."""
    live = x.iloc[1::2].reset_index(drop=True).copy()
    for column in SHIFTED:
        live[column] += 2 * x[column].std()
    truth = [int(v) for v in y.iloc[1::2]]
    return live, [1 - v if i % 3 == 0 else v for i, v in enumerate(truth)]


def wait_for_rows(traffic: Path, rows: int, timeout: float = 20) -> int:
    """The rows the service has written so far, once they reach `rows` (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        count = len(read_logged(traffic)) if any(traffic.rglob("*.parquet")) else 0
        if count >= rows or time.monotonic() > deadline:
            return count
        time.sleep(0.2)


def read_logged(traffic: Path) -> Any:
    import pandas as pd

    files = sorted((traffic / "predictions").rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def check_served_traffic(
    traffic: Path, live: Any, tracking_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlops-bot drift` with `current: served`: drift in the shifted columns, and the champion scored on the
    labels that came back (accuracy well under what its run recorded: the performance trigger fires)."""
    import json

    from sklearn.datasets import load_breast_cancer

    from bot.cli import main

    repo = tmp_path / "repo"
    repo.mkdir()
    load_breast_cancer(as_frame=True).frame.to_csv(repo / "train.csv", index=False)
    for cmd in (["git", "init", "-q", "-b", "main"], ["dvc", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=repo, check=True, capture_output=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "data"],
        cwd=repo,
        check=True,
        capture_output=True,
    )
    config = tmp_path / "mlops-bot.yml"
    config.write_text(SERVED_CONFIG.format(location=traffic.as_uri()))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    out = tmp_path / "report"
    argv = ["drift", "--repo-dir", str(repo), "--config", str(config), "--reference-rev", "HEAD"]
    assert main([*argv, "--out", str(out), "--json", str(out / "summary.json")]) == 0
    summary = json.loads((out / "summary.json").read_text())

    served = summary["served"]
    assert served["rows"] == 30 + len(live) and served["versions"] == [["1", 30 + len(live)]]
    assert (served["joined"], served["duplicate"], served["unknown"], served["late"]) == (len(live), 1, 1, 0)
    assert set(SHIFTED) <= {c["column"] for c in summary["columns"] if c["drifted"]}
    performance = summary["performance"]
    assert performance["status"] == "scored" and performance["labelled_rows"] == len(live)
    assert f"{len(live)} of {served['rows']} served row(s) labelled (last 1d)" in performance["note"]
    (accuracy,) = performance["scores"]
    assert accuracy["value"] < summary["champion"]["metrics"]["accuracy"] - 0.2


SHIFTED = ("mean radius", "worst area")
SERVED_CONFIG = """\
version: 1
models:
  - name: Breast-Cancer
    stage: train
    output: model.pkl
    drift:
      current: served
      window: {{last: 1d}}
      traffic: {{location: "{location}"}}
      reference: train.csv
      performance:
        label: target
        metrics:
          - name: accuracy
            tolerance: 0.05
"""


@pytest.mark.parametrize(
    ("name", "expected"),
    [("breast-cancer", "breast-cancer"), ("Fraud_Model.v2", "fraud_model.v2"), ("My Model!", "my-model")],
)
def test_bento_name_is_a_valid_bentoml_name(name: str, expected: str) -> None:
    assert bento_name(name) == expected


def test_packages_are_pinned_to_what_is_installed() -> None:
    import mlflow
    import pandas

    pins = pinned_packages(
        ["scikit-learn>=1.0", "-r extra.txt", "cloudpickle", "bentoml", "no-such-package-xyz<2"]
    )
    assert f"mlflow=={mlflow.__version__}" in pins
    assert f"pandas=={pandas.__version__}" in pins
    assert any(p.startswith("scikit-learn==") for p in pins)
    assert any(p.startswith("cloudpickle==") for p in pins)
    assert "no-such-package-xyz<2" in pins  # not installed here: the model's own specifier is kept
    assert not any(p.startswith(("-r", "bentoml")) for p in pins)


@pytest.mark.parametrize(
    ("location", "packages"),
    [("s3://bucket/clf", ["s3fs"]), ("gs://bucket/clf", ["gcsfs"]), ("file:///srv/t", []), ("traffic", [])],
)
def test_a_traffic_log_on_a_bucket_installs_its_filesystem(location: str, packages: list[str]) -> None:
    assert traffic_packages({"location": location}) == packages


def test_rendered_sources_are_valid_python_and_yaml(tmp_path: Path) -> None:
    render_sources(
        tmp_path,
        model_name="it's: tricky",
        version="7",
        git_sha="abc",
        model_uri="models:/x/7",
        model_tag="its-tricky:v1",
        features=["a", 'quote"d'],
        packages=["mlflow==3.17.2"],
    )
    compile((tmp_path / "service.py").read_text(), "service.py", "exec")
    bentofile = yaml.safe_load((tmp_path / "bentofile.yaml").read_text())
    assert bentofile["labels"]["mlflow_model"] == "it's: tricky"
    assert bentofile["python"] == {"lock_packages": False, "packages": ["mlflow==3.17.2"]}
    assert bentofile["service"] == "service:ModelService"
    assert bentofile["docker"]["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_a_failed_step_names_the_error_a_library_masked() -> None:
    from bot.adapters.bento_session import tail as _tail

    stderr = "\n".join(
        [
            "Traceback (most recent call last):",
            "mlflow.exceptions.MlflowException: Registered Model with name=churn not found",
            "",
            "During handling of the above exception, another exception occurred:",
            *[f'  File "frame{n}.py", line {n}' for n in range(10)],
            "UnboundLocalError: cannot access local variable 'local_path' where it is not associated with a value",
        ]
    )
    said = _tail(stderr)
    assert said.endswith(
        "(first raised: mlflow.exceptions.MlflowException: Registered Model with name=churn not found)"
    )
    assert "UnboundLocalError" in said


class Session:
    """One BentoML session on the registry fixture's store, in a BentoML home of the test's own."""

    def __init__(self, registry: tuple[str, str], home: Path) -> None:
        from bot.adapters.bentoml import bento_session

        (self.uri, self.version), self.home = registry, home
        self.session = bento_session(home, self.uri)

    def build(self, **what: Any) -> BentoResult:
        """build_service in the session: MODEL's champion unless `what` says otherwise."""
        args = {"model_name": MODEL, "model_uri": f"models:/{MODEL}@champion", "git_sha": "0" * 40, **what}
        return build_service(tracking_uri=self.uri, out_dir=self.home / "dist", bentoml_home=self.home,
                             session=self.session, **{"version": self.version, **args})  # fmt: skip


@pytest.fixture
def one_session(registry: tuple[str, str], tmp_path: Path) -> Iterator[Session]:
    opened = Session(registry, tmp_path / "home")
    with opened.session:
        yield opened


@pytest.mark.slow
def test_one_session_builds_each_bento_from_its_own_service(one_session: Session) -> None:
    # A promote job builds every promoted model's bento in one BentoML process; BentoML imports each rendered
    # service.py to build it, and a stale `service` module would give the second bento the first one's model.
    results = [
        one_session.build(model_name=name, git_sha=sha * 40)
        for name, sha in (("first", "1"), ("second", "2"))
    ]
    for result, name, sha in zip(results, ("first", "second"), ("1", "2"), strict=True):
        bento_dir = one_session.home / "bentos" / name / result.tag.split(":")[1]
        bento = yaml.safe_load((bento_dir / "bento.yaml").read_text())
        assert bento["labels"]["mlflow_model"] == name and bento["labels"]["git_sha"] == sha * 40
        assert [m["tag"].split(":")[0] for m in bento["services"][0]["models"]] == [name]
        assert f"{name}:" in (bento_dir / "src" / "service.py").read_text()


@pytest.mark.slow
def test_a_failed_step_says_which_and_why_and_the_session_goes_on(one_session: Session) -> None:
    from bot.adapters.bentoml import BentoBuildError

    with pytest.raises(BentoBuildError) as failed:
        one_session.build(version="9", model_uri=f"models:/{MODEL}/9")
    assert str(failed.value).startswith("bentoml.mlflow.import_model failed:")
    assert "9" in str(failed.value) and "not found" in str(failed.value).lower()
    assert Path(one_session.build().export_path).is_file()


def test_a_session_that_dies_or_hangs_is_an_error_that_names_the_step(tmp_path: Path) -> None:
    import os
    import signal

    from bot.adapters.bentoml import BentoBuildError, bento_session

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with bento_session(tmp_path / "home", uri) as session:
        with pytest.raises(BentoBuildError, match="bentoml build did not finish within its time limit"):
            session.call("build", step="bentoml build", timeout=0.01, ctx=str(tmp_path), version="v")
        assert session._proc.poll() is not None, "a step past its time limit stops the BentoML process"
    with bento_session(tmp_path / "home", uri) as session:
        os.kill(session._proc.pid, signal.SIGKILL)
        with pytest.raises(
            BentoBuildError, match=r"bentoml export failed \(the BentoML process exited with -9\)"
        ):
            session.call("export", step="bentoml export", tag="x:y", path=str(tmp_path / "x.bento"))


FORKED_BUILD = """
import json, os, sys
from pathlib import Path
os.environ["BENTOML_HOME"] = sys.argv[3]  # this process's own store: the session's must win in the child
import mlflow  # a warm job step: MLflow imported, BentoML not, one thread
from bot.adapters.bento_session import _Child
from bot.adapters.bentoml import bento_session, build_service
home = Path(sys.argv[2])
with bento_session(home, sys.argv[1]) as session:
    forked = isinstance(session._proc, _Child)
    result = build_service(model_name="forked", version="1", model_uri="models:/Breast-Cancer@champion",
                           tracking_uri=sys.argv[1], git_sha="0" * 40, out_dir=home / "dist", bentoml_home=home,
                           session=session)
print(json.dumps({"forked": forked, "tag": result.tag, "export": result.export_path}))
"""


@pytest.mark.slow
def test_a_warm_process_forks_its_session_with_the_sessions_own_store(
    registry: tuple[str, str], tmp_path: Path
) -> None:
    uri, _ = registry
    home, other = tmp_path / "home", tmp_path / "other"
    out = subprocess.run([sys.executable, "-c", FORKED_BUILD, uri, str(home), str(other)],
                         capture_output=True, text=True, check=True, timeout=300)  # fmt: skip
    said = json.loads(out.stdout.strip().splitlines()[-1])
    assert said["forked"] is True
    assert (home / "bentos" / "forked" / said["tag"].split(":")[1] / "bento.yaml").is_file()
    assert not other.exists(), "the forked child used the parent's BENTOML_HOME"
    with tarfile.open(said["export"]) as archive:
        assert any(n.endswith("MLmodel") for n in archive.getnames())
