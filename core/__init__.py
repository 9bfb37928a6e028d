"""reviewguard: scores accounts for review extortion and fake engagement, with reasons.

Subpackages: ``reviewguard.features`` (contract reading, feature registry and
feature code), ``reviewguard.training`` (LightGBM per risk, calibration,
policy, MLflow), ``reviewguard.serving`` (batch scoring, explanations, case
files). The contract, the simulator and the CLI live at the top level.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reviewguard")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"
