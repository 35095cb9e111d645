"""The tag names mlops-bot writes to MLflow: how a run or a model version is found again (never by name)."""

from __future__ import annotations


class RunTags:
    """Tags on every training run."""

    MODEL = "mlops_bot.model"
    REPO = "mlops_bot.repo"
    PR = "mlops_bot.pr"
    HEAD_SHA = "mlops_bot.head_sha"
    BASE_SHA = "mlops_bot.base_sha"
    DVC_LOCK_HASH = "mlops_bot.dvc_lock_hash"
    OUTPUT_HASH = "mlops_bot.output_hash"  # DVC md5 of the model output: the identity of a trained model
    CI_URL = "mlops_bot.ci_url"
    MODEL_URI = "mlops_bot.model_uri"  # the logged model (models:/m-...), so a fetched run knows it
    # HEAD_SHA moves to the newest PR head a reused run stands for (the lock commit's follow-up push);
    # TRAINED_SHA keeps the commit the training really ran on.
    TRAINED_SHA = "mlops_bot.trained_sha"
    # How long the training took, so a card for a reused run (the lock commit's push) tells the original
    # training's duration, not the few seconds of finding the run.
    TRAINED_SECONDS = "mlops_bot.trained_seconds"
    ALL = (
        MODEL,
        REPO,
        PR,
        HEAD_SHA,
        BASE_SHA,
        DVC_LOCK_HASH,
        OUTPUT_HASH,
        CI_URL,
        MODEL_URI,
        TRAINED_SHA,
        TRAINED_SECONDS,
    )


class VersionTags:
    """Tags on registered model versions, set when a version is promoted."""

    RUN_ID = "run_id"  # the run a version was made from: the key that makes registering idempotent
    GIT_SHA = "mlops_bot.git_sha"
    PR = "mlops_bot.pr"
    DVC_LOCK_HASH = "mlops_bot.dvc_lock_hash"
    BENTO = "mlops_bot.bento_tag"
    DEPLOYMENT = "mlops_bot.deployment_id"
    PROMOTED_AT = "mlops_bot.promoted_at"  # ISO UTC time the version last became champion (retrain schedule)


MODEL_REPO_TAG = "mlops_bot.repo"  # on the registered model: the repository that owns it (MLflow webhooks)
