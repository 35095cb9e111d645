"""What a user can get wrong with drift data or the drift config, each as an exception naming the fix."""

from __future__ import annotations


class DriftError(Exception):
    """A drift check that cannot run because of something the user can fix."""


class DriftDataError(DriftError):
    """The reference or current data cannot be compared: the message says which file/column and why."""


class DriftConfigError(DriftError):
    """The drift section of the config cannot be used (unknown model, unknown method, ...)."""
