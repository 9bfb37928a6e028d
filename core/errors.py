"""Errors the package raises on purpose.

Every message names what the user must fix (table, column, rule, a few rows);
the CLI prints it without a traceback. Anything else escaping the package is a
bug, which the property-based tests look for.
"""

from __future__ import annotations


class ReviewguardError(Exception):
    """Base of every error the package raises deliberately."""


class ContractError(ReviewguardError):
    """Input data breaks the event data contract."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class ConfigError(ReviewguardError):
    """A configuration file or option is invalid."""


class TrainingDataError(ReviewguardError):
    """Labels cannot train or validate a model (no labels, one class, too few positives)."""


class ModelLoadError(ReviewguardError):
    """A model cannot be found or is not a reviewguard model."""
