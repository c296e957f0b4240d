"""What the config forms offer in their free-text fields (anything else may still be typed): the model names the
catalogue and the built-in table of popular models know, and the bundled datasets. The panel's comboboxes and the
sidebar (through the server's schema, as `x-ft-suggestions`) offer the same list."""

from __future__ import annotations

from ft_jupyter.data.bundled import BUNDLED
from ft_jupyter.models.catalogue import CATALOGUE
from ft_jupyter.models.shapes import SHAPES


def _billions(params: int) -> str:
    return f"{params / 1e9:.2f} B" if params < 1e10 else f"{params / 1e9:.0f} B"


def form_suggestions() -> dict[str, list[dict[str, str]]]:
    """By dotted path: `{"value", "label"}` entries, the catalogue's models first (they work offline), then the hub
    models whose shapes are known (estimates work offline; training downloads them)."""
    models = [
        {"value": e.name, "label": f"{e.parameters} params, {e.license}: {e.description}"} for e in CATALOGUE.values()
    ]
    models += [
        {"value": s.repo_id, "label": f"{_billions(s.params)} params, {s.license} (downloaded for training)"}
        for s in SHAPES
    ]
    datasets = [{"value": name, "label": "bundled with ft-jupyter"} for name in BUNDLED]
    return {"model.name": models, "data.dataset": datasets}


def suggested_values() -> dict[str, list[str]]:
    """`form_suggestions()` as plain values, for widgets that show names only."""
    return {path: [entry["value"] for entry in entries] for path, entries in form_suggestions().items()}
