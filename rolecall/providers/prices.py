"""Estimated cost of a call from list prices shipped with the package (``data/model_prices.json``).

Precedence, per call: a price the caller already knows (the provider's own model list, the
operator's ``[premiere]`` settings), then this curated table (matched like the model facts:
exact id or alias, clean id, base id), else unknown. Nothing is downloaded at run time.
"""

from __future__ import annotations

import json
from importlib import resources

from rolecall.providers import facts

Price = tuple[float, float]  # USD per million input tokens, per million output tokens


def load_rows() -> list[dict[str, object]]:
    text = resources.files("rolecall.providers").joinpath("data/model_prices.json").read_text("utf-8")
    return list(json.loads(text)["prices"])


_PRICES: dict[str, Price] = {str(r["id"]): (float(r["input"]), float(r["output"])) for r in load_rows()}  # type: ignore[arg-type]


def price_of(model_id: str) -> Price | None:
    """The curated list price of a model, or None when unknown."""
    fact = facts.lookup(model_id)
    if fact is not None and fact.id in _PRICES:
        return _PRICES[fact.id]
    return _PRICES.get(model_id)


def estimate_cost(model_id: str, input_tokens: int | None, output_tokens: int | None,
                  known: Price | None = None) -> float | None:
    """USD for one call, or None when the price or both token counts are unknown."""
    price = known or price_of(model_id)
    if price is None or (input_tokens is None and output_tokens is None):
        return None
    return round(((input_tokens or 0) * price[0] + (output_tokens or 0) * price[1]) / 1_000_000, 8)
