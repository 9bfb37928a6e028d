"""Moved to :mod:`reviewguard.model.bundle`; kept so that models logged before the move still load.

A model logged with reviewguard 0.1 carries a ``pyfunc_model.py`` that imports
``reviewguard.bundle.load_bundle``; MLflow runs that file when it loads the model.
"""

from reviewguard.model.bundle import (
    Bundle,
    Calibrator,
    Reference,
    RiskModel,
    bundle_files,
    bundle_from_files,
    load_bundle,
    save_bundle,
)

__all__ = [
    "Bundle",
    "Calibrator",
    "Reference",
    "RiskModel",
    "bundle_files",
    "bundle_from_files",
    "load_bundle",
    "save_bundle",
]
