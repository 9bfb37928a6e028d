"""Point-in-time account features: the registry (one declaration per feature) and the Ibis code.

The public API of the package; the rest of reviewguard imports features from here.

- ``spec.py``: what a declaration holds (``Feature``, compute ``Group``, evidence families);
- ``account.py``, ``likes.py``, ``coordination.py``, ``extortion.py``, ``review_spam.py``:
  each family's declarations beside the queries that compute them;
- ``escalation.py``: the policy's inputs from the enforcement history (``ESCALATION_FEATURES``),
  returned by ``build_features`` and never model features;
- ``registry.py``: the declarations collected in registry order;
- ``pit.py``: the point-in-time helpers every query uses;
- ``cutoffs.py``: the cutoffs (one as-of, per label, one account, from a file);
- ``build.py``: ``build_features``, the groups composed;
- ``docs.py``: docs/features.md, generated.
"""

from reviewguard.features.build import build_features
from reviewguard.features.cutoffs import (
    cutoffs_at,
    cutoffs_for_account,
    cutoffs_from_labels,
    default_as_of,
    latest_event_time,
    read_cutoffs,
)
from reviewguard.features.escalation import ESCALATION_FEATURES
from reviewguard.features.likes import NIGHT_HOURS_UTC
from reviewguard.features.registry import (
    BY_NAME,
    CONTEXT_FAMILIES,
    EVIDENCE_FAMILIES,
    FAMILIES,
    FEATURE_SET_VERSION,
    FEATURES,
    Feature,
    features_for,
    monotone_constraints,
)

__all__ = [
    "BY_NAME",
    "CONTEXT_FAMILIES",
    "ESCALATION_FEATURES",
    "EVIDENCE_FAMILIES",
    "FAMILIES",
    "FEATURES",
    "FEATURE_SET_VERSION",
    "NIGHT_HOURS_UTC",
    "Feature",
    "build_features",
    "cutoffs_at",
    "cutoffs_for_account",
    "cutoffs_from_labels",
    "default_as_of",
    "features_for",
    "latest_event_time",
    "monotone_constraints",
    "read_cutoffs",
]
