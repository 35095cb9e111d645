"""MLflow tracking and model registry behind `bot.ports.ModelRegistry`.

Works with a `sqlite:///` store (the embedded default) and with an `http(s)://` tracking server. The
URIs live on an `MlflowClient` owned by the instance; only `mlflow.sklearn.log_model`, which has no
client form, sees them globally, inside `models.global_tracking_uri` for the duration of the call.
`runs` is the tracking half (experiments, the training run, finding runs), `registry` the registry half
(versions, aliases, tags, the owner of a model), `models` the logging of a scikit-learn model.
mlflow (~1.7 s to import) and scikit-learn are imported inside the methods.
"""

from __future__ import annotations

from bot.adapters.mlflow.models import ModelLogError
from bot.adapters.mlflow.registry import VERSION_RUN_ID_TAG, ForeignModelError, MlflowRegistry
from bot.core.tags import RunTags as RunTags  # re-exported: the adapter is where callers look

__all__ = ["VERSION_RUN_ID_TAG", "ForeignModelError", "MlflowRegistry", "ModelLogError", "RunTags"]
