"""slokit: SLO-driven reliability for Python web services."""

__version__ = "0.1.0"

__all__ = ["__version__"]
