"""The SDK's version (one place, read by the package and the User-Agent header)."""

__all__ = ["__version__"]

__version__ = "0.1.0"
