"""mlops-bot: a GitHub repository as the control plane of ML models."""

__version__ = "0.1.0"
