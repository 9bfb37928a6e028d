"""Connected accounts: linked by a shared device or address, they are judged together.

A crew or a bot farm shares devices and addresses; if some of its members trained a model and
others judged it, the judged ones would be recognised, not detected. The backtest keeps every
connected group in one block. A device or address shared by more than ``max_accounts`` accounts
is public (an internet café, a shop's demo phone, a dormitory's router) and links nobody.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from reviewguard.reader import Dataset

LINK_SOURCES = (
    ("device_id", ("likes", "orders", "reviews")),
    ("address_id", ("orders",)),
)


def account_links(ds: Dataset, *, max_accounts: int) -> pd.DataFrame:
    """(``account_id``, ``link``) for every device or address an account used, public ones left out."""
    parts = []
    for column, tables in LINK_SOURCES:
        for name in tables:
            t = ds.table(name)
            if t is None or column not in t.columns:
                continue
            used = t.filter(t[column].notnull()).select("account_id", link=ibis.literal(column + ":") + t[column])
            parts.append(used.distinct())
    if not parts:
        return pd.DataFrame({"account_id": pd.Series(dtype=str), "link": pd.Series(dtype=str)})
    links = ibis.union(*parts, distinct=True)
    sizes = links.group_by("link").aggregate(accounts=links.count())
    private = sizes.filter(sizes.accounts.between(2, max_accounts)).select("link")
    out = links.semi_join(private, "link").to_pandas()
    return out.sort_values(["link", "account_id"], kind="stable").reset_index(drop=True)


def account_groups(accounts: pd.Series, links: pd.DataFrame) -> pd.Series:
    """A group id per account in ``accounts`` (index: account id): connected through shared links."""
    ids = pd.Index(pd.unique(pd.concat([accounts.astype(str), links["account_id"].astype(str)])))
    link_ids = pd.Index(pd.unique(links["link"]))
    n = len(ids)
    rows = ids.get_indexer(pd.Index(links["account_id"].astype(str)))
    cols = n + link_ids.get_indexer(pd.Index(links["link"]))
    size = n + len(link_ids)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, label = connected_components(graph, directed=False)
    groups = pd.Series(label[:n], index=ids)
    return groups.loc[pd.Index(accounts.astype(str).unique())]


def cut_links(block_of: pd.Series, links: pd.DataFrame) -> int:
    """Pairs of accounts sharing a link whose rows ended up in different blocks (0 when groups hold)."""
    known = links[links["account_id"].isin(block_of.index)]
    if known.empty:
        return 0
    blocks = known.assign(block=block_of.reindex(known["account_id"]).to_numpy())
    per_link = blocks.groupby("link")["block"].nunique()
    return int((per_link > 1).sum())
