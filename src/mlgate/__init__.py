"""mlgate: CI/CD/CT for ML models, GitOps-style.

The public surface is the ``mlgate`` command; the library modules below it are
importable for tests and other tools, one concern per module (see README, Architecture).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
