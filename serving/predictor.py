"""Moved to :mod:`reviewguard.model.predictor`; kept so that models logged before the move still load.

A model logged with reviewguard 0.1 carries a ``pyfunc_model.py`` that imports
``Predictor`` and ``portable_frame`` from here; MLflow runs that file when it loads the model.
"""

from reviewguard.model.predictor import SCORE_COLUMNS, Predictor, portable_frame

__all__ = ["SCORE_COLUMNS", "Predictor", "portable_frame"]
