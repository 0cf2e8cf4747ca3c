"""The version of runner: the one place it is written (``pyproject.toml`` reads it from here).

Imports nothing.
"""

__version__ = "0.1.0"
