"""Point-in-time account features: the registry (one declaration per feature) and the Ibis code.

The public API of the package; the rest of reviewguard imports features from here.
"""

from reviewguard.features.compute import (
    NIGHT_HOURS_UTC,
    build_features,
    cutoffs_at,
    cutoffs_from_labels,
    default_as_of,
    latest_event_time,
)
from reviewguard.features.registry import (
    BY_NAME,
    CONTEXT_FAMILIES,
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
    "FAMILIES",
    "FEATURES",
    "FEATURE_SET_VERSION",
    "NIGHT_HOURS_UTC",
    "Feature",
    "build_features",
    "cutoffs_at",
    "cutoffs_from_labels",
    "default_as_of",
    "features_for",
    "latest_event_time",
    "monotone_constraints",
]
