"""Serving the deployed model: a GitOps-reconciling HTTP server with verified hot swaps.

The pointer in git (``deploy/production.yaml``) is the desired state. ``reconcile`` drives
the served model towards it (fetch by hash, verify, probe in a child process, load, swap
one reference); ``app`` answers requests with whatever is served at that instant;
``server`` runs both. Nothing heavy is imported here: the probe child imports this package.

Modules: ``validation`` (request rows against the schema, pure), ``state`` (the swapped
reference), ``probe`` (child-process test load), ``source`` (the followed repository),
``reconcile`` (the loop), ``metrics`` (Prometheus), ``app`` (ASGI), ``server`` (uvicorn).
"""

from __future__ import annotations
