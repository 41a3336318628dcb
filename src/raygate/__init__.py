"""raygate: eval-gated, reversible GenAI releases on Ray — promote by alias, not by hope."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("raygate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
