"""``mlgate publish-release TAG``: ``gh-release`` under a forge-neutral name."""

from __future__ import annotations

from mlgate.cli.gh_release import HELP, configure, run

__all__ = ["HELP", "configure", "run"]
