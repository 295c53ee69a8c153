"""Designs as files: a TOML description of components, failures, workload and structure.

``load_design(path)`` reads a design file into a ``Design`` whose ``build(sim,
**params)`` wires it like a ready model; ``hasim run design.toml`` and
``hs.Experiment("design.toml")`` run it. ``draw(design)`` draws it. The format
is described in ``docs/design_files.md``.
"""

from __future__ import annotations

from hasim.designfile.loader import Design, DesignError, design_module, load_design
from hasim.designfile.workload import FileWorkload

__all__ = ["Design", "DesignError", "FileWorkload", "design_module", "load_design", "draw"]


def draw(design: Design | str, path: str | None = None, **params):
    """Draw a design (boxes in zones, arrows for requests); see ``hasim.designfile.drawing``."""
    from hasim.designfile.drawing import draw as _draw

    return _draw(design, path, **params)
