"""aiguilleur: the exchange hub of French local authorities (MDEL, HubEE, COLD, SNE, Pronote)."""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("aiguilleur")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
