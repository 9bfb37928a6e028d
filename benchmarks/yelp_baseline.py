"""The simple baseline for the Yelp benchmark: 12 hand-made user features in pandas, a plain LightGBM.

    .venv/bin/python benchmarks/yelp_baseline.py ../shared/data/yelp/YelpChi_metadata.gz

What a data scientist would try first (issue 17): per user, from the review
log alone, with the product context (mean rating, popularity, rank) taken over
every review in the frame it is given. ``user_features`` sees only the rows
passed to it, so a caller gets point-in-time features by passing the reviews
before a moment; on the whole file it is transductive, as the issue's script.
Run alone it prints stratified 5-fold CV (seed 7) on one file.
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier

FEATURES = [
    "n_reviews", "max_per_day", "positive_share", "negative_share", "extreme_share", "mean_rating",
    "mean_abs_deviation", "earliest_rank_fraction", "product_popularity", "product_mean_rating",
    "span_days", "burstiness",
]  # fmt: skip


def user_features(reviews: pd.DataFrame) -> pd.DataFrame:
    """One row per user_id; ``reviews`` has user_id, product_id, rating (1-5) and date."""
    r = reviews[["user_id", "product_id", "rating", "date"]].copy()
    prod = r.groupby("product_id")
    r["p_mean"] = prod["rating"].transform("mean")
    r["p_count"] = prod["rating"].transform("size").astype(float)
    r["rank_frac"] = prod["date"].rank(method="min") / r["p_count"]
    r["dev"] = (r["rating"] - r["p_mean"]).abs()
    r["pos"], r["neg"], r["ext"] = r["rating"] >= 4, r["rating"] <= 2, r["rating"].isin([1, 5])
    g = r.groupby("user_id")
    span = (g["date"].max() - g["date"].min()).dt.days.astype(float)
    out = pd.DataFrame(
        {
            "n_reviews": g.size().astype(float),
            "max_per_day": r.groupby(["user_id", "date"]).size().groupby(level=0).max().astype(float),
            "positive_share": g["pos"].mean(),
            "negative_share": g["neg"].mean(),
            "extreme_share": g["ext"].mean(),
            "mean_rating": g["rating"].mean(),
            "mean_abs_deviation": g["dev"].mean(),
            "earliest_rank_fraction": g["rank_frac"].min(),
            "product_popularity": g["p_count"].mean(),
            "product_mean_rating": g["p_mean"].mean(),
            "span_days": span,
            "burstiness": np.maximum(1 - span / 28, 0.0),
        }
    )
    return out[FEATURES]


def model(seed: int = 7) -> LGBMClassifier:
    return LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=31, min_child_samples=50,
                          subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                          n_jobs=2, verbose=-1)  # fmt: skip


def fit_score(x_train: pd.DataFrame, y_train: np.ndarray, x_test: pd.DataFrame, seed: int = 7) -> np.ndarray:
    return model(seed).fit(x_train, y_train).predict_proba(x_test)[:, 1]


def account_labels(reviews: pd.DataFrame) -> pd.Series:
    """1 when Yelp filtered any of the user's reviews (label -1)."""
    return reviews.assign(spam=reviews["label"] == -1).groupby("user_id")["spam"].any().astype(int)


def main(path: str) -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    cols = ["user_id", "product_id", "rating", "label", "date"]
    reviews = pd.read_csv(path, sep=r"\s+", header=None, names=cols, dtype={"user_id": str, "product_id": str})
    reviews["date"] = pd.to_datetime(reviews["date"])
    x = user_features(reviews)
    y = account_labels(reviews).reindex(x.index).to_numpy()
    oof = np.zeros(len(y))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=7).split(x, y):
        oof[test] = fit_score(x.iloc[train], y[train], x.iloc[test])
    print(f"{path}: 5-fold CV AUC {roc_auc_score(y, oof):.3f}, AP {average_precision_score(y, oof):.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
