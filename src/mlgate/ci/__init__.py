"""Adapters for CI systems: GitHub's REST API (``github``) and GitHub Actions (``actions``),
GitLab's REST API v4 (``gitlab``), and the choice between the two forges (``forge``).

The clients are thin edges around the pure core: the HTTP client is injected (an ``httpx.Client``)
and environment and streams are parameters, so tests talk to a loopback stand-in.
"""

from __future__ import annotations
