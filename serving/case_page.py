"""The moderator's page of a case: one self-contained HTML file with its charts inlined as PNG.

Every piece of user text goes through Jinja's escaping, and the page's
Content-Security-Policy forbids scripts (tests/serving/test_case.py checks both in Chromium).
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from matplotlib.figure import Figure


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def waterfall_png(decision: dict[str, Any], max_display: int = 10) -> str:
    # SHAP draws through pyplot; pyplot picks a non-interactive backend where there is no screen,
    # and a notebook keeps its own, so the backend is not forced here.
    import matplotlib.pyplot as plt
    import shap

    names = list(decision["contributions"])
    values = np.array([decision["contributions"][n] for n in names])
    data = np.array([np.nan if decision["features"].get(n) is None else decision["features"][n] for n in names])
    expl = shap.Explanation(values=values, base_values=decision["base_value"], data=data, feature_names=names)
    shap.plots.waterfall(expl, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.set_size_inches(8, 5)
    try:
        return _png(fig)
    finally:
        plt.close(fig)


def likes_png(ev: dict[str, Any]) -> str | None:
    if not ev or not ev["hours"]:
        return None
    hours = pd.to_datetime([h["hour"] for h in ev["hours"]])
    likes = [h["likes"] for h in ev["hours"]]
    # A plain Figure, outside pyplot: nothing to close, no backend involved.
    fig = Figure(figsize=(8, 3))
    ax = fig.subplots()
    ax.bar(hours, likes, width=1 / 24, color="#c0392b", label="this account")
    pop = ev.get("population_likes_per_hour_max") or {}
    for key, style in (("p50", ":"), ("p99", "--")):
        if pop.get(key) is not None:
            ax.axhline(
                pop[key], linestyle=style, color="grey", label=f"population {key} of the busiest hour: {pop[key]:,.0f}"
            )
    ax.set_ylabel("likes per hour")
    ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    return _png(fig)


_env = Environment(
    loader=PackageLoader("reviewguard.serving", "templates"), autoescape=select_autoescape(["html"], default=True)
)


def render_case_html(case: dict[str, Any]) -> str:
    """A self-contained page: every piece of user text goes through Jinja's escaping."""
    charts = {risk: waterfall_png(d) for risk, d in case["decisions"].items()}
    likes = case["evidence"].get("likes_per_hour")
    return _env.get_template("case.html").render(
        case=case,
        charts=charts,
        likes_chart=likes_png(likes) if likes else None,
        families=lambda fs: ", ".join(fs),
    )
