"""Shared test helpers: a real sample DVC repository and a real `mlflow server`, for any suite to import."""
