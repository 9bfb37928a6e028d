"""The model layer between training and serving: the bundle, the policy, the predictor, the store.

Training writes what this layer defines and serving reads it; neither imports the
other (docs/architecture.md states the rule, ``tests/test_architecture.py`` enforces it).
"""
