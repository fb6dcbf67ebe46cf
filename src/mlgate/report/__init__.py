"""Renderers: Markdown for GitHub (:mod:`.markdown`), rich tables for the terminal
(:mod:`.terminal`), mermaid curves (:mod:`.curves`); :mod:`.collect` gathers the data.

Only these modules and the CLI print or format; the library returns values.
"""

from __future__ import annotations
