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

# The escalation inputs of a risk: (remedies applied before, behaviour after the last one).
# Filled by the enforcement features; a risk without them never meets a prior-remedy gate.
ESCALATION_FEATURES: dict[str, tuple[str, str]] = {}

__all__ = [
    "BY_NAME",
    "CONTEXT_FAMILIES",
    "ESCALATION_FEATURES",
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
