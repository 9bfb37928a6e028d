"""Peer methods for the Yelp benchmark: SpEagle (Rayana & Akoglu, KDD 2015) through UGFraud.

UGFraud (pip ``ugfraud``) ships SpEagle's belief propagation but not the
priors it runs on (its demo loads them from a pickle made by the original
feature pipeline). ``speagle_priors`` computes them as the paper defines them
(section 3.2): per node type, metadata features are turned into
suspiciousness with their empirical CDF (1 - F(x) for features where high is
suspicious, F(x) where low is), and combined as 1 - sqrt(mean of squares).
Only the metadata features are used; the text features (RL, ACS, MCS, PCW,
PC) need review text, which these files do not carry. This is a faithful
re-implementation of the priors, documented as such; the propagation is
UGFraud's own code. Like the paper, it is transductive: it sees every review
of the file, labels excepted.

The user beliefs are scored with scikit-learn on their raw values (UGFraud's
``scale_value`` helper drops every score that is not 0 or 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TAU_DAYS = 28  # burstiness horizon
DELTA_DAYS = 7 * 30  # early time frame
BETA_DEV = 0.63
BETA_ETF = 0.69
WRD_ALPHA = 1.5


def _ecdf_susp(values: pd.Series, high_is_suspicious: bool) -> np.ndarray:
    """f(x): 1 - P(X <= x) when high is suspicious, P(X <= x) when low is."""
    v = values.to_numpy(dtype=float)
    v = np.where(np.isnan(v), np.nanmedian(v) if np.isfinite(v).any() else 0.0, v)
    cdf = np.searchsorted(np.sort(v), v, side="right") / len(v)
    return 1 - cdf if high_is_suspicious else cdf


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    f = np.vstack(parts)
    return 1 - np.sqrt((f**2).mean(axis=0))


def _entropy(counts: pd.Series) -> float:
    p = counts.to_numpy(dtype=float)
    p = p[p > 0] / p.sum()
    return float(-(p * np.log2(p)).sum()) if p.size else 0.0


def _group_features(r: pd.DataFrame, key: str) -> pd.DataFrame:
    """SpEagle's user/product metadata features for groups of reviews keyed by ``key``."""
    g = r.groupby(key)
    per_day = r.groupby([key, "date"]).size().groupby(level=0).max()
    span = (g["date"].max() - g["date"].min()).dt.days
    gaps = r.sort_values([key, "date"]).groupby(key)["date"].diff().dt.days
    gap_bins = np.floor(np.log2(gaps + 1)).rename("bin")
    etg = pd.concat([r[key], gap_bins], axis=1).dropna().groupby(key)["bin"].apply(lambda b: _entropy(b.value_counts()))
    erd = r.groupby(key)["rating"].apply(lambda s: _entropy(s.value_counts()))
    return pd.DataFrame(
        {
            "MNR": per_day / per_day.max(),
            "PR": g["rating"].apply(lambda s: (s >= 4).mean()),
            "NR": g["rating"].apply(lambda s: (s <= 2).mean()),
            "avgRD": g["rd"].mean(),
            "WRD": g.apply(lambda d: (d["rd"] * d["w"]).sum() / d["w"].sum(), include_groups=False),
            "BST": np.where(span <= TAU_DAYS, 1 - span / TAU_DAYS, 0.0),
            "ERD": erd,
            "ETG": etg.reindex(span.index).fillna(0.0),
        }
    )


HIGH = {"MNR": True, "PR": True, "NR": True, "avgRD": True, "WRD": True, "BST": True, "ERD": False, "ETG": False}


def speagle_priors(yelp: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """User, product and review priors (probability of spam) from review metadata."""
    r = yelp[["user_id", "product_id", "rating", "date"]].copy()
    r["prod_mean"] = r.groupby("product_id")["rating"].transform("mean")
    r["rd"] = (r["rating"] - r["prod_mean"]).abs()
    r["rank"] = r.groupby("product_id")["date"].rank(method="min")
    r["w"] = 1.0 / r["rank"] ** WRD_ALPHA
    users = _group_features(r, "user_id")
    prods = _group_features(r, "product_id")
    user_prior = pd.Series(_combine([_ecdf_susp(users[c], HIGH[c]) for c in HIGH]), index=users.index)
    prod_prior = pd.Series(_combine([_ecdf_susp(prods[c], HIGH[c]) for c in HIGH]), index=prods.index)
    first = r.groupby("product_id")["date"].transform("min")
    age = (r["date"] - first).dt.days
    etf = np.where(age <= DELTA_DAYS, 1 - age / DELTA_DAYS, 0.0)
    review = pd.DataFrame(
        {
            "Rank": r["rank"],
            "RD": r["rd"],
            "EXT": r["rating"].isin([1, 5]).astype(float),
            "DEV": (r["rd"] / 4 > BETA_DEV).astype(float),
            "ETF": (etf > BETA_ETF).astype(float),
            "ISR": (r.groupby("user_id")["user_id"].transform("size") == 1).astype(float),
        }
    )
    review_high = {"Rank": False, "RD": True, "EXT": True, "DEV": True, "ETF": True, "ISR": True}
    review_prior = pd.Series(_combine([_ecdf_susp(review[c], h) for c, h in review_high.items()]), index=r.index)
    return user_prior, prod_prior, review_prior


def speagle_user_beliefs(yelp: pd.DataFrame, *, bp_iters: int = 2) -> tuple[pd.Series, pd.Series]:
    """(SpEagle user beliefs after belief propagation, the user priors alone), indexed by user id."""
    import networkx as nx
    from UGFraud.Detector.SpEagle import SpEagle

    user_prior, prod_prior, review_prior = speagle_priors(yelp)
    g = nx.Graph()
    # Users first, so every edge reads (user, product), the order UGFraud looks priors up in.
    g.add_nodes_from((f"u{u}", {"prior": float(p), "types": "user"}) for u, p in user_prior.items())
    g.add_nodes_from((f"p{p}", {"prior": float(v), "types": "prod"}) for p, v in prod_prior.items())
    edges = pd.DataFrame(
        {
            "u": "u" + yelp["user_id"].astype(str),
            "p": "p" + yelp["product_id"].astype(str),
            "prior": review_prior.to_numpy(),
        }
    )
    # Several reviews of one product by one user are one edge in the graph: keep the most suspicious.
    edges = edges.groupby(["u", "p"], sort=False)["prior"].max().reset_index()
    g.add_edges_from((u, p, {"prior": float(v), "types": "review"}) for u, p, v in edges.itertuples(index=False))
    eps_num, eps = 1e-5, 0.1
    user_review = np.log(np.array([[1 - eps_num, eps_num], [eps_num, 1 - eps_num]]))
    review_product = np.log(np.array([[1 - eps, eps], [eps, 1 - eps]]))
    model = SpEagle(
        g,
        {"u_r": user_review, "r_u": user_review, "r_p": review_product, "p_r": review_product},
        message=None,
        max_iters=4,
    )
    model.schedule(schedule_type="bfs")
    model.run_bp(start_iter=0, max_iters=bp_iters, tol=1e-3)
    user_belief, _, _ = model.classify()
    beliefs = pd.Series({k[1:]: v for k, v in user_belief.items()})  # drop the "u" prefix
    return beliefs.reindex(user_prior.index.astype(str)), user_prior.rename(index=str)
