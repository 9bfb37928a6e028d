"""Peer method for the Yelp benchmark: SpEagle (Rayana & Akoglu, KDD 2015) through UGFraud.

UGFraud (pip ``ugfraud``, in requirements/lock.txt) ships SpEagle's belief
propagation and, for YelpChi only, a pickle of priors made by its authors'
feature pipeline (``Utils/yelpFeatureExtraction.py`` and
``Utils/feature_configuration.txt`` in the UGFraud repository, not in the
package). ``speagle_priors`` re-implements that pipeline from review metadata,
so it runs on YelpNYC too; on YelpChi it reproduces the shipped
``priors.pkl`` (reviews exactly, users within 0.0004, products within 0.003;
``python benchmarks/peers.py --check-shipped``;
``--diagnose`` prints both tie rules round by round). The text features need review
text, which these files do not carry: neither the pickle nor this uses them.

What the authors' pipeline does, where it departs from the paper's text:

- Suspicion per feature. For a feature where high is suspicious the code
  scores ``1 - (#values below x + 1) / n``, i.e. about ``P(X >= x)``; the
  paper writes ``1 - P(X <= x)``. The two differ only at ties, but these
  features are mostly ties (a binary review feature; most users wrote one
  review, so their MNR, BST and ISR are all at the top value). With the
  paper's formula every tied top value gets suspicion 1, the review priors
  average about 0.7 instead of 0.17, every review pushes its product towards
  "spam", and after two rounds the users are ranked below chance
  (YelpChi AUC 0.455 from priors at 0.634). The first version of this file
  used the paper's formula; that was the below-chance SpEagle row.
- Features: users MNR, PR, NR, avgRD, BST, ERD, ETG; products the same less
  BST; reviews RD, EXT (counted twice), DEV, ETF, ISR. WRD and Rank are
  commented out in the authors' configuration.
- ETG bins day gaps at 0, 0.5, 1, 4, 7, 13, 33 and ignores gaps of 33 days or more.
- Priors are clipped to [0.001, 0.999].

Propagation is UGFraud's own ``SpEagle`` with its demo's potentials (user-review
1e-5, review-product 0.1) and schedule (BFS, two rounds then one more unless the
messages moved less than 1e-3). Beliefs are P(spam): the prior handed to a node
is P(y=1) with y=1 spam, and ``classify()`` returns the posterior of y=1. There
are no repeated user-product pairs in either file, so no edges are merged.
The user beliefs are scored with scikit-learn on their raw values
(UGFraud's ``scale_value`` drops every score that is not 0 or 1). While it runs,
UGFraud's ``logsumexp`` is scipy's, which costs about 4x more on scipy 1.17 than
the two-element numpy version swapped in here (same values to 1e-12).

Like the paper, it is unsupervised and transductive: it sees every review of
the file, labels excepted.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

TAU_DAYS = 28  # burstiness horizon
ETF_DAYS = 7 * 30  # early time frame
BETA_DEV = 0.63
BETA_ETF = 0.69
ETG_EDGES = np.array([0, 0.5, 1, 4, 7, 13, 33])
HIGH = {
    "MNR": True, "PR": True, "NR": True, "avgRD": True, "BST": True, "ERD": False, "ETG": False,
    "RD": True, "EXT": True, "EXT_again": True, "DEV": True, "ETF": True, "ISR": True,
}  # fmt: skip
USER_FEATURES = ["MNR", "PR", "NR", "avgRD", "BST", "ERD", "ETG"]
PRODUCT_FEATURES = ["MNR", "PR", "NR", "avgRD", "ERD", "ETG"]
REVIEW_FEATURES = ["RD", "EXT", "EXT_again", "DEV", "ETF", "ISR"]


def _entropy_bits(keys: pd.Series, values: pd.Series) -> pd.Series:
    c = pd.DataFrame({"k": keys.to_numpy(), "v": values.to_numpy()}).value_counts().rename("c").reset_index()
    p = c["c"] / c.groupby("k")["c"].transform("sum")
    return (-p * np.log2(p)).groupby(c["k"]).sum()


def _node_features(r: pd.DataFrame, key: str) -> pd.DataFrame:
    """MNR, PR, NR, avgRD, BST, ERD, ETG of the groups of reviews keyed by ``key``."""
    g = r.groupby(key)
    per_day = r.groupby([key, "date"]).size().groupby(level=0).max()
    span = (g["date"].max() - g["date"].min()).dt.days
    s = r.sort_values([key, "date"], kind="stable")
    gap = s.groupby(key)["date"].diff().dt.days
    keep = gap.notna() & (gap < ETG_EDGES[-1])
    bins = pd.Series(np.searchsorted(ETG_EDGES, gap[keep].to_numpy(), side="left"), index=gap[keep].index)
    out = pd.DataFrame(
        {
            "MNR": per_day / per_day.max(),
            "PR": (r["rating"] > 3).groupby(r[key]).mean(),
            "NR": (r["rating"] < 3).groupby(r[key]).mean(),
            "avgRD": r["rd"].groupby(r[key]).mean(),
            "BST": pd.Series(np.where(span > TAU_DAYS, 0.0, 1 - span / TAU_DAYS), index=span.index),
        }
    )
    out["ERD"] = _entropy_bits(r[key], r["rating"]).reindex(out.index)
    out["ETG"] = _entropy_bits(s.loc[keep, key], bins).reindex(out.index).fillna(0.0)
    return out


def node_priors(features: pd.DataFrame, names: list[str], ties: str = "ugfraud") -> pd.Series:
    """S = 1 - sqrt(mean of squared per-feature suspicion), clipped to [0.001, 0.999].

    ``ties="ugfraud"``: the authors' code (about P(X >= x) for high-is-suspicious features);
    ``ties="paper"``: the paper's formula as written, 1 - P(X <= x) (the broken first version).
    """
    n = len(features)
    acc = np.zeros(n)
    for name in names:
        v = features[name].to_numpy(dtype=float)
        s = np.sort(v)
        if HIGH[name]:
            below = np.searchsorted(s, v, side="left") if ties == "ugfraud" else np.searchsorted(s, v, side="right") - 1
            acc += (1 - (below + 1) / n) ** 2
        else:
            acc += (np.searchsorted(s, v, side="right") / n) ** 2
    return pd.Series(np.clip(1 - np.sqrt(acc / len(names)), 0.001, 0.999), index=features.index)


def speagle_priors(yelp: pd.DataFrame, ties: str = "ugfraud") -> tuple[pd.Series, pd.Series, pd.Series]:
    """User, product and review priors (P(spam)) from review metadata; reviews in ``yelp``'s row order."""
    r = yelp[["user_id", "product_id", "rating", "date"]].reset_index(drop=True)
    r["rd"] = (r["rating"] - r.groupby("product_id")["rating"].transform("mean")).abs()
    user_prior = node_priors(_node_features(r, "user_id"), USER_FEATURES, ties)
    prod_prior = node_priors(_node_features(r, "product_id"), PRODUCT_FEATURES, ties)
    age = (r["date"] - r.groupby("product_id")["date"].transform("min")).dt.days
    ext = r["rating"].isin([1, 5]).astype(float)
    review = pd.DataFrame(
        {
            "RD": r["rd"],
            "EXT": ext,
            "EXT_again": ext,
            "DEV": (r["rd"] / 4 > BETA_DEV).astype(float),
            "ETF": ((age <= ETF_DAYS) & (1 - age / ETF_DAYS > BETA_ETF)).astype(float),
            "ISR": (r.groupby("user_id")["user_id"].transform("size") == 1).astype(float),
        }
    )
    return user_prior, prod_prior, node_priors(review, REVIEW_FEATURES, ties)


def _logsumexp(a: Any, axis: int | None = None) -> Any:
    a = np.asarray(a, dtype=np.float64)
    m = a.max(axis=axis, keepdims=True)
    out = m + np.log(np.exp(a - m).sum(axis=axis, keepdims=True))
    return out.squeeze(axis=axis) if axis is not None else out.reshape(())


@contextlib.contextmanager
def _fast_logsumexp() -> Iterator[None]:
    import UGFraud.Detector.SpEagle as module

    saved = module.logsumexp
    module.logsumexp = _logsumexp
    try:
        yield
    finally:
        module.logsumexp = saved


def speagle_user_beliefs(
    yelp: pd.DataFrame, *, rounds: int = 3, ties: str = "ugfraud", fast: bool = True
) -> tuple[pd.Series, pd.Series]:
    """(SpEagle user beliefs P(spam) after belief propagation, the user priors alone), by user id."""
    import networkx as nx
    from UGFraud.Detector.SpEagle import SpEagle

    user_prior, prod_prior, review_prior = speagle_priors(yelp, ties)
    g = nx.Graph()
    # Users first, so every edge reads (user, product), the order UGFraud looks priors up in.
    g.add_nodes_from((f"u{u}", {"prior": float(p), "types": "user"}) for u, p in user_prior.items())
    g.add_nodes_from((f"p{p}", {"prior": float(v), "types": "prod"}) for p, v in prod_prior.items())
    edges = zip("u" + yelp["user_id"].astype(str), "p" + yelp["product_id"].astype(str), review_prior, strict=True)
    g.add_edges_from((u, p, {"prior": float(v), "types": "review"}) for u, p, v in edges)
    if g.number_of_edges() != len(yelp):
        raise ValueError("repeated user-product pairs: SpEagle's graph would merge them")
    eps_num, eps = 1e-5, 0.1
    user_review = np.log(np.array([[1 - eps_num, eps_num], [eps_num, 1 - eps_num]]))
    review_product = np.log(np.array([[1 - eps, eps], [eps, 1 - eps]]))
    potentials = {"u_r": user_review, "r_u": user_review, "r_p": review_product, "p_r": review_product}
    with _fast_logsumexp() if fast else contextlib.nullcontext():
        model = SpEagle(g, potentials, message=None, max_iters=4)
        model.schedule(schedule_type="bfs")
        done = 0
        while done < rounds:  # the authors' schedule: two rounds, then one at a time
            step = min(2 if done == 0 else 1, rounds - done)
            delta = model.run_bp(start_iter=done, max_iters=step, tol=1e-3)
            done += step
            if delta < 1e-3:
                break
        user_belief, _, _ = model.classify()
    beliefs = pd.Series({k[1:]: v for k, v in user_belief.items()})  # drop the "u" prefix
    return beliefs.reindex(user_prior.index.astype(str)), user_prior.rename(index=str)


def _check_shipped(yelpchi: str) -> None:
    """Compare ``speagle_priors`` on YelpChi with the priors.pkl UGFraud ships."""
    import pickle
    from importlib import resources

    from reviewguard.datasets import read_yelp_metadata

    shipped = pickle.loads(resources.files("UGFraud").joinpath("Yelp_Data/YelpChi/priors.pkl").read_bytes())
    yelp = read_yelp_metadata(yelpchi)
    user, prod, review = speagle_priors(yelp)
    keys = list(zip(yelp["user_id"], yelp["product_id"], strict=True))
    diff = {
        "users": (user - pd.Series(shipped[0])).abs().max(),
        "products": (prod - pd.Series(shipped[2])).abs().max(),
        "reviews": np.abs(review.to_numpy() - np.array([shipped[1][k] for k in keys])).max(),
    }
    print("largest difference from UGFraud's shipped YelpChi priors:", {k: round(float(v), 6) for k, v in diff.items()})


def _diagnose(path: str) -> None:
    """Both tie rules on one file: prior means, and user AUC of the priors and after 1-3 rounds."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from reviewguard.datasets import read_yelp_metadata

    yelp = read_yelp_metadata(path)
    y = yelp.assign(spam=yelp["label"] == -1).groupby("user_id")["spam"].any().astype(int)
    size = yelp.groupby("product_id")["product_id"].transform("size").groupby(yelp["user_id"]).mean()
    for ties in ("ugfraud", "paper"):
        user, prod, review = speagle_priors(yelp, ties)
        print(
            f"ties={ties}: mean prior users {user.mean():.3f}, products {prod.mean():.3f}, "
            f"reviews {review.mean():.3f}; "
            f"user AUC of the priors {roc_auc_score(y.reindex(user.index), user):.4f}"
        )
        for rounds in (1, 2, 3):
            b, _ = speagle_user_beliefs(yelp, rounds=rounds, ties=ties)
            rho = spearmanr(b.to_numpy(), size.reindex(b.index).to_numpy()).statistic
            print(
                f"  {rounds} round(s): user AUC {roc_auc_score(y.reindex(b.index), b):.4f}, "
                f"Spearman with the mean size of the reviewed products {rho:+.3f}",
                flush=True,
            )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-shipped", metavar="YELPCHI_GZ", help="compare with UGFraud's YelpChi priors.pkl")
    ap.add_argument("--diagnose", metavar="YELP_GZ", help="both tie rules, 1-3 rounds")
    args = ap.parse_args()
    if args.check_shipped:
        _check_shipped(args.check_shipped)
    if args.diagnose:
        _diagnose(args.diagnose)
