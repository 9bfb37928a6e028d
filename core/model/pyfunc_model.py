"""The MLflow pyfunc of a reviewguard model, logged as code (no pickle).

MLflow runs this file when it loads the model; the model itself is the
bundle folder (LightGBM text and JSON) it reads from ``artifacts["bundle"]``.
Input: the feature table (``account_id``, ``as_of``, feature columns).
Output: one row per account and risk with score, action and, per the
``explain`` parameter, reasons as JSON text (portable over HTTP and Spark).
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class ReviewguardPyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        from reviewguard.model.bundle import load_bundle
        from reviewguard.model.predictor import Predictor

        self.predictor = Predictor(load_bundle(context.artifacts["bundle"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from reviewguard.model.predictor import portable_frame

        params = params or {}
        frame = model_input.copy()
        if "as_of" in frame.columns:
            frame["as_of"] = pd.to_datetime(frame["as_of"])
        explain = str(params.get("explain", "flagged"))
        out = self.predictor.predict(frame, explain=explain, top_k=int(params.get("top_k", 5)))
        return portable_frame(out)


mlflow.models.set_model(ReviewguardPyfunc())
