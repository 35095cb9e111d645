"""Loading a registered or logged model to score it on evaluation rows: any flavor `mlflow.pyfunc` loads.

A model with the sklearn flavor is loaded as its estimator, so its class probabilities (`predict_proba`)
and class order (`classes_`) are at hand for roc_auc, log_loss and decision thresholds; any other flavor is
scored through its pyfunc `predict`, whose 2-D numeric output is read as class probabilities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.adapters.mlflow.models import global_tracking_uri


class ModelLoadError(Exception):
    """The model could not be loaded or could not score the rows; the message says which and why."""


@dataclass(frozen=True)
class ScoringModel:
    uri: str
    flavor: str  # "sklearn", or the pyfunc loader's module ("python_function" models name theirs)
    inputs: tuple[str, ...] | None  # the input columns its MLflow signature names; None: no signature
    classes: tuple[Any, ...] | None  # the estimator's class order, when it has one
    predict: Callable[[Any], Any]
    predict_proba: Callable[[Any], Any] | None


def load_for_scoring(uri: str, *, tracking_uri: str) -> ScoringModel:
    """The model at `uri` (`models:/NAME@alias`, `models:/m-...`, `runs:/...`), ready to score a DataFrame."""
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import get_model_info

    try:
        with global_tracking_uri(tracking_uri):
            info = get_model_info(uri)
            flavors = dict(info.flavors or {})
            if "sklearn" in flavors:
                estimator = mlflow.sklearn.load_model(uri)
                proba = getattr(estimator, "predict_proba", None)
                classes = getattr(estimator, "classes_", None)
                return ScoringModel(
                    uri=uri,
                    flavor="sklearn",
                    inputs=_inputs(info),
                    classes=tuple(classes.tolist()) if classes is not None else None,
                    predict=estimator.predict,
                    predict_proba=proba if callable(proba) else None,
                )
            loaded = mlflow.pyfunc.load_model(uri)
    except Exception as exc:
        raise ModelLoadError(f"{uri} could not be loaded: {_short(exc)}") from exc
    loader = str(flavors.get("python_function", {}).get("loader_module", "python_function"))
    return ScoringModel(
        uri=uri,
        flavor=loader.removeprefix("mlflow."),
        inputs=_inputs(info),
        classes=None,
        predict=loaded.predict,
        predict_proba=None,
    )


def _inputs(info: Any) -> tuple[str, ...] | None:
    signature = getattr(info, "signature", None)
    if signature is None or signature.inputs is None:
        return None
    names = [str(n) for n in signature.inputs.input_names() if n is not None]
    return tuple(names) or None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
