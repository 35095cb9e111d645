"""A real canary bento: two registry versions built into one BentoML service, served on loopback and sent
2,000 requests. The candidate answers its share, a keyed request always reaches the same model, every
request is logged with both models' predictions (which answered, which was the shadow), and once labels come
back the two are compared on exactly those requests. One service serves every assertion (2 cores)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.adapters.bentoml import CanaryModel, build_service, serve
from bot.core.canary import CanaryTags

MODEL = "Breast-Cancer"
SHARE = 0.10
REQUESTS = 2_000
KEYS = 150  # each sent three times, by header or by field


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A sqlite MLflow registry with two versions of MODEL that disagree on some rows: v1 a scaled logistic
    regression (the champion), v2 a strongly regularised one on the raw values (the candidate)."""
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
        experiment = mlflow.create_experiment("canary", artifact_location=(root / "artifacts").as_uri())
        x, y = load_breast_cancer(return_X_y=True, as_frame=True)
        for model in (
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
            LogisticRegression(C=1e-4, max_iter=2000),
        ):
            with mlflow.start_run(experiment_id=experiment):
                mlflow.sklearn.log_model(
                    model.fit(x, y),
                    name="model",
                    pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
                    registered_model_name=MODEL,
                )
        yield uri
    finally:
        mlflow.set_tracking_uri(previous)


@dataclass
class Served:
    tag: str
    traffic: Path
    rows: pd.DataFrame  # the feature rows sent, one per request, in order
    answered: dict[str, str]  # request id -> X-Model-Version of the answer
    predicted: dict[str, Any]  # request id -> the answer
    by_key: dict[str, set[str]]  # key -> the versions that answered it
    model_info: dict[str, Any]
    labels: pd.Series  # request id -> the true label sent to /feedback


@pytest.fixture(scope="module")
def served(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Served:
    import httpx
    from sklearn.datasets import load_breast_cancer

    traffic = tmp_path_factory.mktemp("traffic")
    home = tmp_path_factory.mktemp("bentoml-home")
    result = build_service(
        model_name=MODEL,
        version="1",
        model_uri=f"models:/{MODEL}/1",
        tracking_uri=registry,
        git_sha="1" * 40,
        out_dir=tmp_path_factory.mktemp("dist"),
        bentoml_home=home,
        traffic={"location": traffic.as_uri(), "flush_seconds": 0.2},
        canary=CanaryModel(version="2", model_uri=f"models:/{MODEL}/2", share=SHARE, git_sha="2" * 40),
    )
    x, y = load_breast_cancer(return_X_y=True, as_frame=True)
    rows = x.iloc[[i % len(x) for i in range(REQUESTS)]].reset_index(drop=True)
    answered: dict[str, str] = {}
    predicted: dict[str, Any] = {}
    by_key: dict[str, set[str]] = {}
    with (
        serve(result.tag, port=free_port(), bentoml_home=home, timeout=120) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        info = client.post("/model_info", json={}).json()
        for i, row in enumerate(rows.to_numpy().tolist()):
            answer = client.post("/predict", json={"rows": [row]}, headers={"X-Request-Id": f"r{i}"})
            assert answer.status_code == 200, answer.text
            answered[answer.headers["X-Request-Id"]] = answer.headers["X-Model-Version"]
            predicted[answer.headers["X-Request-Id"]] = answer.json()[0]
        for k in range(KEYS):
            key = f"user-{k}"
            for attempt in range(3):
                body: dict[str, Any] = {"records": [x.iloc[(k + attempt) % len(x)].to_dict()]}
                headers = {"X-Request-Id": f"{key}-{attempt}"}
                if (k + attempt) % 2:
                    headers["X-Canary-Key"] = key
                else:
                    body["canary_key"] = key
                answer = client.post("/predict", json=body, headers=headers)
                assert answer.status_code == 200, answer.text
                by_key.setdefault(key, set()).add(answer.headers["X-Model-Version"])
        truth = [int(y.iloc[i % len(x)]) for i in range(REQUESTS)]
        stored = client.post("/feedback", json={"request_ids": list(answered), "labels": truth})
        assert stored.json() == {"stored": REQUESTS}
        _wait_for(traffic, REQUESTS + 3 * KEYS)
    labels = pd.Series(truth, index=list(answered))
    return Served(result.tag, traffic, rows, answered, predicted, by_key, info, labels)


def _logged(traffic: Path, kind: str) -> pd.DataFrame:
    files = sorted((traffic / kind).rglob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame()


def _wait_for(traffic: Path, rows: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(len(_logged(traffic, kind)) >= rows for kind in ("predictions", "shadow")):
            return
        time.sleep(0.25)


@pytest.mark.slow
def test_the_candidate_answers_its_share_of_2000_requests(served: Served) -> None:
    canary = sum(1 for v in served.answered.values() if v == "2")
    assert len(served.answered) == REQUESTS
    assert abs(canary / REQUESTS - SHARE) <= 0.03, f"{canary} of {REQUESTS} requests reached the candidate"
    assert served.model_info["mlflow_version"] == "1"
    assert (
        served.model_info["canary"]["mlflow_version"] == "2" and served.model_info["canary"]["share"] == SHARE
    )


@pytest.mark.slow
def test_a_keyed_request_always_reaches_the_same_model(served: Served) -> None:
    from bot.adapters.canary_routing import to_canary

    assert all(len(versions) == 1 for versions in served.by_key.values()), served.by_key
    reached = {key: next(iter(versions)) for key, versions in served.by_key.items()}
    assert set(reached.values()) == {"1", "2"}
    # by the hash of the key (the same function, salted by the two versions), not by a coin per request
    salt = f"{MODEL}:1:2"
    assert reached == {key: "2" if to_canary(SHARE, key, salt=salt) else "1" for key in reached}


@pytest.mark.slow
def test_both_predictions_are_logged_and_attributed(served: Served, registry: str) -> None:
    import mlflow

    answered, shadow = _logged(served.traffic, "predictions"), _logged(served.traffic, "shadow")
    assert len(answered) == len(shadow) == REQUESTS + 3 * KEYS
    assert answered["answered"].all() and not shadow["answered"].any()
    ids = list(served.answered)
    a = answered.set_index("request_id").loc[ids]
    s = shadow.set_index("request_id").loc[ids]
    assert list(a["model_version"]) == list(served.answered.values())  # the version that answered
    assert list(a["prediction"]) == [served.predicted[i] for i in ids]
    assert (a["model_version"] != s["model_version"]).all()  # the shadow is the other one
    mlflow.set_tracking_uri(registry)
    features = served.rows
    expected = {v: mlflow.pyfunc.load_model(f"models:/{MODEL}/{v}").predict(features) for v in ("1", "2")}
    assert (expected["1"] != expected["2"]).sum() > 20  # the two disagree: who answered shows in the answer
    for frame in (a, s):
        for version in ("1", "2"):
            mask = (frame["model_version"] == version).to_numpy()
            assert list(frame["prediction"].to_numpy()[mask]) == list(expected[version][mask])
    assert ((s["proba_0"] + s["proba_1"]).round(6) == 1).all()
    # each folder's partitions name the version whose rows they hold
    for kind in ("predictions", "shadow"):
        parts = {f.parent.name for f in (served.traffic / kind).rglob("*.parquet")}
        assert parts == {"version=1", "version=2"}


@pytest.mark.slow
def test_labels_joined_compare_the_two_on_the_same_requests(served: Served) -> None:
    from sklearn.metrics import accuracy_score

    from bot.adapters.canary_traffic import paired_requests
    from bot.core.config import ModelSpec
    from bot.jobs.canary_compare import live_comparison

    paired = paired_requests(served.traffic.as_uri(), champion_version="1", canary_version="2")
    assert len(paired.rows) == REQUESTS + 3 * KEYS and paired.labelled == REQUESTS
    assert sum(paired.answered.values()) == len(paired.rows)
    spec = ModelSpec.model_validate(
        {
            "name": MODEL,
            "stage": "train",
            "output": "model.pkl",
            "drift": {
                "current": "served",
                "reference": "train.csv",
                "performance": {"label": "target", "metrics": [{"name": "accuracy"}]},
            },
        }
    )
    comparison = live_comparison(spec, paired, champion_version="1", canary_version="2")
    assert comparison.ok, comparison.error
    assert comparison.rows == REQUESTS
    accuracy = comparison.metric("accuracy")
    assert accuracy is not None
    # what each version answered or would have answered on those very requests, scored against their labels
    answered, shadow = _logged(served.traffic, "predictions"), _logged(served.traffic, "shadow")
    both = pd.concat([answered, shadow]).set_index(["request_id", "model_version"])["prediction"]
    ids = list(served.labels.index)
    for version, value in (("1", accuracy.champion), ("2", accuracy.candidate)):
        predictions = both.loc[[(i, version) for i in ids]].to_numpy()
        assert value == pytest.approx(accuracy_score(served.labels.to_numpy(), predictions))
    assert accuracy.low <= accuracy.delta <= accuracy.high


@pytest.mark.slow
def test_the_drift_check_reads_each_request_once(served: Served, tmp_path: Path) -> None:
    import datetime as dt

    from bot.adapters.evidently.served import served_current
    from bot.core.config.traffic import LastWindow, TrafficLog

    current, facts = served_current(
        TrafficLog(location=served.traffic.as_uri()),
        LastWindow(last="1d"),
        root=tmp_path,
        model=MODEL,
        now=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1),
        label="target",
    )
    assert facts.rows == len(current) == REQUESTS + 3 * KEYS  # answered rows only, not the shadows
    canary = sum(1 for v in served.answered.values() if v == "2") + sum(
        3 for versions in served.by_key.values() if versions == {"2"}
    )
    assert dict(facts.versions) == {"1": facts.rows - canary, "2": canary}
    assert facts.joined == REQUESTS


CONFIG = """\
models:
  - name: Breast-Cancer
    stage: train
    output: model.pkl
    drift:
      current: served
      traffic: {{location: "{location}"}}
      reference: train.csv
      performance:
        label: target
        metrics:
          - name: accuracy
"""


@pytest.mark.slow
def test_the_comparison_on_the_live_requests_is_posted_once_and_kept_current(
    served: Served, registry: str, tmp_path: Path
) -> None:
    """`mlops-bot canary-compare` (a step of every drift job): the canary's state from the registry, its
    requests from the traffic log, the table posted on the candidate's pull request and edited, not repeated."""
    from bot.adapters.mlflow import MlflowRegistry
    from bot.core.config import CONFIG_PATH
    from bot.core.tags import VersionTags
    from bot.jobs.canary_compare import compare_canary
    from bot.jobs.common import JobEnv
    from bot.settings import Settings
    from bot.standin import StandIn

    store = MlflowRegistry(registry)
    with StandIn(tmp_path / "github") as standin:
        src = tmp_path / "src"
        (src / ".github").mkdir(parents=True)
        (src / CONFIG_PATH).write_text(CONFIG.format(location=served.traffic.as_uri()))
        standin.create_repo("acme/clf", source=src)
        standin.create_user("alice")
        token = standin.installation_token(standin.install_app("acme/clf"))
        pull = standin.create_issue("acme/clf", title="a better model", body="", author="alice").number
        env = JobEnv(
            settings=Settings(
                github_token=token,
                github_base_url=standin.base_url,
                github_throttle=False,
                mlflow_tracking_uri=registry,
                database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            ),
            repo="acme/clf",
        )
        assert compare_canary(env, tmp_path, model=MODEL).status == "no-canary"
        store.set_alias(MODEL, "champion", "1")
        store.set_alias(MODEL, "canary", "2")
        for key, value in (
            (CanaryTags.CHAMPION, "1"),
            (CanaryTags.PERCENT, "10"),
            (VersionTags.PR, str(pull)),
        ):
            store.set_version_tag(MODEL, "2", key, value)

        first = compare_canary(env, tmp_path, model=MODEL)
        again = compare_canary(env, tmp_path, model=MODEL)
        [comment] = standin.comments("acme/clf", pull)
        standin.check()

    assert (first.status, first.answered_on, first.labelled) == ("compared", pull, REQUESTS)
    assert first.comparison is not None and again.comparison == first.comparison
    body = comment.body or ""
    assert "On 2,000 labelled live requests" in body
    assert "| Metric | Champion v1 | Canary v2 |" in body
    accuracy = first.comparison.metric("accuracy")
    assert accuracy is not None and "| `accuracy` ↑ |" in body
    assert f"{REQUESTS + 3 * KEYS:,} request(s) scored by both" in body


@pytest.mark.slow
def test_the_clis_builder_makes_one_bento_of_both_versions(
    registry: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `mlops-bot canary` builds: the champion and the candidate in one bento, logging where the model's
    monitoring reads (drift.traffic), in the bot's own BentoML store."""
    import yaml

    from bot.cli.canary import canary_builder
    from bot.core.config import load_config
    from bot.core.models import ModelVersion
    from bot.settings import Settings

    monkeypatch.delenv("BENTOML_HOME", raising=False)

    class Env:
        settings = Settings(mlflow_tracking_uri=registry, work_dir=tmp_path / "work")
        config = load_config(CONFIG.format(location="s3://bucket/clf"))

    champion = ModelVersion(MODEL, "1", "r1", tags={"mlops_bot.git_sha": "1" * 40})
    candidate = ModelVersion(MODEL, "2", "r2")
    tag, note = canary_builder(Env())(champion, candidate, 0.25, "2" * 40)
    bento_dir = tmp_path / "work" / "bentoml" / "bentos" / "breast-cancer" / tag.split(":")[1]
    bento = yaml.safe_load((bento_dir / "bento.yaml").read_text())
    assert bento["labels"]["mlflow_version"] == "1" and bento["labels"]["canary_version"] == "2"
    assert len(bento["services"][0]["models"]) == 2  # both versions travel with the bento
    service = (bento_dir / "src" / "service.py").read_text()
    assert "'share': 0.25" in service and "s3://bucket/clf" in service
    requirements = (bento_dir / "env" / "python" / "requirements.txt").read_text().split()
    assert "s3fs" in {r.split("==")[0] for r in requirements}  # the log's bucket needs its filesystem
    assert (tmp_path / "work" / "bentos" / "breast-cancer-1-canary-2.bento").is_file()
    assert note
