"""Package a registry model version as a BentoML service: import, render, build, export, and
containerize when a Docker daemon answers.

Each BentoML step runs in a subprocess with its own BENTOML_HOME and MLFLOW_TRACKING_URI, so a
build never depends on (or changes) the calling process's BentoML or MLflow state. The exported
`.bento` bundles the model, so CI can pass it between jobs without a shared store.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.adapters.bento_session import BentoBuildError as BentoBuildError  # what callers catch
from bot.adapters.bento_session import BentoSession
from bot.adapters.bento_session import tail as _tail
from bot.core.isolation import job_environment
from bot.resources import template_path

# Whatever the model itself requires, the service also needs these to load and serve it.
_SERVICE_PACKAGES = (
    "mlflow",
    "pandas",
    "numpy",
    "pydantic",
    "pyarrow",
    "fsspec",
)  # the last two: the traffic log
# The traffic log as `drift.traffic` defaults it (bot.core.config.traffic.TrafficLog).
DEFAULT_TRAFFIC: dict[str, Any] = {
    "location": "mlops-bot-traffic",
    "queue_rows": 10_000,
    "batch_rows": 1_000,
    "flush_seconds": 5.0,
}
NO_DOCKER_NOTE = "not containerized: no Docker daemon"


@dataclass(frozen=True)
class CanaryModel:
    """The candidate a canary service serves beside the champion (`/promote --canary`)."""

    version: str
    model_uri: str
    share: float  # of requests, in (0, 1)
    git_sha: str = ""
    shadow: bool = True  # score every request with both models and log both (the comparison's rows)


@dataclass(frozen=True)
class BentoResult:
    tag: str  # the bento, e.g. "breast-cancer:abc123"
    export_path: str  # the .bento archive to upload as a CI artifact (model included)
    containerized: bool
    note: str  # why it was not containerized, or the image it was containerized into
    build_seconds: float


def bento_name(model_name: str) -> str:
    """A valid BentoML name (lowercase alphanumerics, `-`, `_`, `.`) for an MLflow model name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", model_name.lower()).strip("-._")
    if not name:
        raise ValueError(f"cannot make a BentoML name out of model name {model_name!r}")
    return name[:63].rstrip("-._")


# The fsspec backend a traffic-log URL needs inside the service (fsspec itself names these).
_FSSPEC_BACKENDS = {
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
}


def traffic_packages(traffic: Mapping[str, Any] | None) -> list[str]:
    """What the service must install to write its traffic log where `traffic` says (s3:// needs s3fs)."""
    location = str((traffic or {}).get("location", ""))
    scheme = location.split("://", 1)[0].lower() if "://" in location else ""
    backend = _FSSPEC_BACKENDS.get(scheme)
    return [backend] if backend else []


def pinned_packages(model_requirements: list[str]) -> list[str]:
    """The service's `python.packages`: the model's own requirements and the serving stack, each
    pinned to the version installed here (what the model was logged and tested with)."""
    names: dict[str, str] = {}
    for line in [*_SERVICE_PACKAGES, *model_requirements]:
        line = line.split("#", 1)[0].strip()
        # options (-r, --index-url) and URLs would make the bento depend on a location, not a version
        if not line or line.startswith("-") or "://" in line or "@" in line:
            continue
        match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?", line)
        if match is None:
            continue
        key = re.sub(r"[-_.]+", "-", re.sub(r"\[.*", "", match.group(0))).lower()
        if key == "bentoml":  # bentoml pins itself
            continue
        names.setdefault(key, line)
    pinned = []
    for key, line in names.items():
        try:
            pinned.append(f"{key}=={importlib.metadata.version(key)}")
        except importlib.metadata.PackageNotFoundError:
            pinned.append(line)  # not installed here: keep the model's own specifier
    return sorted(pinned)


def render_sources(
    dest: Path,
    *,
    model_name: str,
    version: str,
    git_sha: str,
    model_uri: str,
    model_tag: str,
    features: list[str] | None,
    packages: list[str],
    traffic: Mapping[str, Any] | None = None,
    canary: Mapping[str, Any] | None = None,
) -> None:
    """Write service.py and bentofile.yaml into `dest` from templates/bento, and the traffic log and the canary
    router beside them. `canary`: the candidate served beside the model (tag, features, info, share, salt,
    shadow), see `canary_values`."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(template_path("bento"))),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - Python and YAML, not HTML; values go through pyrepr/tojson
    )
    env.filters["pyrepr"] = repr
    labels = {
        "owner": "mlops-bot",
        "mlflow_model": model_name,
        "mlflow_version": version,
        "git_sha": git_sha,
    }
    if canary is not None:
        labels["canary_version"] = canary["info"]["mlflow_version"]
    values = {
        "model_name": model_name,
        "version": version,
        "git_sha_short": git_sha[:12],
        "model_tag": model_tag,
        "features": features,
        "info": {**labels, "model_uri": model_uri},
        "service_name": bento_name(model_name),
        "class_name": "ModelService",
        "labels": labels,
        "packages": packages,
        "traffic": {**DEFAULT_TRAFFIC, **(traffic or {})},
        "canary": dict(canary) if canary is not None else None,
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
    }
    dest.mkdir(parents=True, exist_ok=True)
    for template, target in (("service.py.j2", "service.py"), ("bentofile.yaml.j2", "bentofile.yaml")):
        (dest / target).write_text(env.get_template(template).render(**values))
    for module in ("traffic_log.py", "canary_routing.py"):
        shutil.copyfile(Path(__file__).with_name(module), dest / module)


def canary_values(
    model_name: str, canary: CanaryModel, imported: Mapping[str, Any], *, champion_version: str
) -> dict[str, Any]:
    """What the service template takes about the candidate. The routing salt names both versions, so a new
    canary (or a new champion) reshuffles which keys reach the candidate."""
    return {
        "tag": imported["tag"],
        "features": imported["features"],
        "info": {
            "mlflow_model": model_name,
            "mlflow_version": canary.version,
            "git_sha": canary.git_sha,
            "model_uri": canary.model_uri,
        },
        "share": canary.share,
        "salt": f"{model_name}:{champion_version}:{canary.version}",
        "shadow": canary.shadow,
    }


def bentoml_env(bentoml_home: Path | None, tracking_uri: str | None = None) -> dict[str, str]:
    # `bentoml build` imports the service and loads the model trained on a PR: it gets what a job step
    # gets (tools' credentials, no bot secret, no GitHub token).
    env = job_environment(os.environ)
    if bentoml_home is not None:
        env["BENTOML_HOME"] = str(bentoml_home)
    env["BENTOML_DO_NOT_TRACK"] = "true"
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    if tracking_uri:
        env["MLFLOW_TRACKING_URI"] = tracking_uri
    # The venv's own bin first: `bentoml` and `uv` come from it, so BentoML never pip-installs uv.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def bento_session(bentoml_home: Path | None, tracking_uri: str) -> BentoSession:
    """Start the BentoML process `build_service` will use, now: its imports overlap the caller's own work
    until the build needs it. The caller closes it."""
    return BentoSession(bentoml_env(bentoml_home, tracking_uri))


def build_service(
    *,
    model_name: str,
    version: str,
    model_uri: str,
    tracking_uri: str,
    git_sha: str,
    out_dir: Path,
    bentoml_home: Path | None = None,
    traffic: Mapping[str, Any] | None = None,
    canary: CanaryModel | None = None,
    session: BentoSession | None = None,
) -> BentoResult:
    """Import the model version into the BentoML store, build a service for it, export it to
    `out_dir/<bento name>-<version>.bento` (`-canary-<candidate>` with a canary), and containerize it when
    Docker is available. The service records its traffic as `traffic` says (`drift.traffic`: location,
    queue_rows, batch_rows, flush_seconds). With `canary`, the candidate is served beside it in the same
    service and answers its share of the requests. `session`: one `bento_session` started earlier for the
    same store and tracking URI (default: one started here)."""
    started = time.perf_counter()
    env = bentoml_env(bentoml_home, tracking_uri)
    with contextlib.ExitStack() as stack:
        if session is None:
            session = stack.enter_context(BentoSession(env))
        elif any(session.env.get(k) != env.get(k) for k in ("BENTOML_HOME", "MLFLOW_TRACKING_URI")):
            raise ValueError("the BentoML session was started for another store or tracking URI")
        imported = _import_model(
            session,
            name=bento_name(model_name),
            model_uri=model_uri,
            labels={"mlflow_model": model_name, "mlflow_version": version, "git_sha": git_sha},
        )
        candidate = None
        if canary is not None:
            candidate_import = _import_model(
                session,
                name=bento_name(model_name),
                model_uri=canary.model_uri,
                labels={
                    "mlflow_model": model_name,
                    "mlflow_version": canary.version,
                    "git_sha": canary.git_sha,
                },
            )
            candidate = canary_values(model_name, canary, candidate_import, champion_version=version)
            imported = {
                **imported,
                "requirements": [*imported["requirements"], *candidate_import["requirements"]],
            }
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="mlops-bot-bento-") as ctx:
            render_sources(
                Path(ctx),
                model_name=model_name,
                version=version,
                git_sha=git_sha,
                model_uri=model_uri,
                model_tag=imported["tag"],
                features=imported["features"],
                packages=pinned_packages([*imported["requirements"], *traffic_packages(traffic)]),
                traffic=traffic,
                canary=candidate,
            )
            # The bento's version is named here, not read back from the build: BentoML prints its tag through
            # Rich, which turns `:m:` (a model named "m") or `:fire:` into an emoji.
            tag = f"{bento_name(model_name)}:{secrets.token_hex(8)}"
            session.call("build", step="bentoml build", ctx=ctx, version=tag.split(":", 1)[1])
        suffix = f"-canary-{canary.version}" if canary is not None else ""
        export_path = out_dir / f"{bento_name(model_name)}-{version}{suffix}.bento"
        export_path.unlink(missing_ok=True)
        session.call("export", step="bentoml export", tag=tag, path=str(export_path))
        containerized, note = _containerize(tag, env)
    return BentoResult(
        tag=tag,
        export_path=str(export_path),
        containerized=containerized,
        note=note,
        build_seconds=round(time.perf_counter() - started, 2),
    )


def _import_model(
    session: BentoSession, *, name: str, model_uri: str, labels: dict[str, str]
) -> dict[str, Any]:
    return session.call(
        "import", step="bentoml.mlflow.import_model", name=name, model_uri=model_uri, labels=labels
    )


def input_names(meta: Any, model_dir: Path) -> list[str] | None:
    schema = meta.get_input_schema()
    if schema is not None and schema.has_input_names():
        return [str(n) for n in schema.input_names()]
    if "sklearn" in meta.flavors:
        # no signature logged: a scikit-learn estimator fitted on a DataFrame still knows its columns
        import mlflow.sklearn

        names = getattr(mlflow.sklearn.load_model(str(model_dir)), "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
    return None


def _bentoml() -> str:
    beside = Path(sys.executable).parent / "bentoml"
    return str(beside) if beside.exists() else "bentoml"


def _run(cmd: list[str], *, env: Mapping[str, str], cwd: Path | None, step: str, timeout: float = 900) -> str:
    try:
        proc = subprocess.run(
            cmd, env=dict(env), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BentoBuildError(f"{step} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise BentoBuildError(f"{step} failed (exit {proc.returncode}): {_tail(proc.stderr or proc.stdout)}")
    return proc.stdout


def docker_available(timeout: float = 5.0) -> bool:
    """True when a Docker daemon answers; a CLI without a daemon (the usual CI case) is False."""
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            timeout=timeout,
            check=True,
        )
    except (subprocess.SubprocessError, OSError):
        return False
    return True


def _containerize(tag: str, env: Mapping[str, str]) -> tuple[bool, str]:
    """Never fails the caller: a missing daemon or a failed image build is reported in the note."""
    if not docker_available():
        return False, NO_DOCKER_NOTE
    try:
        _run([_bentoml(), "containerize", tag], env=env, cwd=None, step="bentoml containerize", timeout=1800)
    except BentoBuildError as exc:
        return False, f"not containerized: {exc}"
    return True, f"containerized as image {tag}"


@contextlib.contextmanager
def serve(
    tag: str,
    *,
    port: int,
    bentoml_home: Path | None = None,
    timeout: float = 60,
    extra_env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Serve bento `tag` on 127.0.0.1:`port`; yields the base URL once /readyz answers 200. `extra_env`
    reaches the service (e.g. MLOPS_BOT_TRAFFIC_LOG: where it records its traffic, or `off`). The service
    runs in `cwd`, where a relative traffic-log location lands (default: a temporary folder, removed after)."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    with (
        tempfile.TemporaryFile(mode="w+") as log,
        tempfile.TemporaryDirectory(prefix="mlops-bot-serve-") as scratch,
    ):
        proc = subprocess.Popen(
            [_bentoml(), "serve", tag, "--host", "127.0.0.1", "--port", str(port)],
            env={**bentoml_env(bentoml_home), **(extra_env or {})},
            cwd=cwd if cwd is not None else scratch,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its workers form one process group we can stop together
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise BentoBuildError(
                        f"bentoml serve {tag} exited with {proc.returncode}: {_tail(log.read())}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    log.seek(0)
                    raise BentoBuildError(
                        f"bentoml serve {tag} not ready after {timeout:.0f} s: {_tail(log.read())}"
                    )
                time.sleep(0.25)
            yield url
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
