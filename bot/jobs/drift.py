"""The drift job: compare a model's production data with its champion's training data.

The reference is read at the git sha the champion was trained on (the caller finds it in the
registry tag `mlops_bot.head_sha`), so a data change merged since then is itself visible as drift.
What to do about a breach (issue, retrain PR) is decided elsewhere from the returned summary.
"""

from __future__ import annotations

from pathlib import Path

from bot.adapters.evidently import DriftConfigError, load_table, reference_at, run_drift
from bot.core.config import CONFIG_PATH, DriftSpec, ModelSpec, RepoConfig, load_config
from bot.core.models import DriftSummary
from bot.ports import ModelRegistry

# The registry tag (on the model version, else on its run) naming the commit a model was trained on.
HEAD_SHA_TAG = "mlops_bot.head_sha"


def drift_target(config: RepoConfig, model: str | None) -> tuple[ModelSpec, DriftSpec]:
    """The model to check and its drift section; DriftConfigError saying what to fix otherwise."""
    names = [m.name for m in config.models]
    if not names:
        raise DriftConfigError(f"{CONFIG_PATH} lists no models")
    spec = config.model(model)
    if spec is None:
        if model is None:
            raise DriftConfigError(
                f"{CONFIG_PATH} lists several models ({', '.join(names)}); pass --model NAME"
            )
        raise DriftConfigError(f"no model named {model!r} in {CONFIG_PATH}; known: {', '.join(names)}")
    if spec.drift is None:
        raise DriftConfigError(
            f"model {spec.name!r} has no `drift:` section in {CONFIG_PATH} "
            "(it needs at least `current:` and `reference:` paths)"
        )
    return spec, spec.drift


def read_config(root: Path, config_path: Path | None = None) -> RepoConfig:
    """The repository config from the checkout (on Actions, the default branch is what is checked out)."""
    path = config_path if config_path is not None else root / CONFIG_PATH
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise DriftConfigError(f"no config file at {path}; `mlops-bot init` writes one") from None
    except OSError as exc:
        raise DriftConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return load_config(text, str(path))


def champion_sha(registry: ModelRegistry, model: str, alias: str = "champion") -> str | None:
    """The git sha the model's `alias` version was trained on; None when there is no such version or tag."""
    version = registry.version_by_alias(model, alias)
    if version is None:
        return None
    if sha := version.tags.get(HEAD_SHA_TAG):
        return sha
    run = registry.run(version.run_id) if version.run_id else None
    return run.tags.get(HEAD_SHA_TAG) if run is not None else None


def check(
    root: Path,
    config: RepoConfig,
    *,
    model: str | None,
    reference_rev: str | None,
    out_dir: Path,
) -> DriftSummary:
    """Run the drift check for one model; writes out_dir/drift-<model>.html and .json."""
    spec, drift = drift_target(config, model)
    reference = reference_at(root, drift.reference, reference_rev or "HEAD")
    current = load_table(drift.current, root=root)
    return run_drift(reference, current, drift, model=spec.name, out_dir=out_dir)
