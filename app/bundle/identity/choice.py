"""The products a user may choose for an upload (CSA's product dropdown), and reading a choice."""

from __future__ import annotations

PRODUCTS = ("Expressway-C", "Expressway-E", "VCS")
"""What a node can be identified as (None: unknown)."""
AUTO = "auto"
CHOICES = (*PRODUCTS, AUTO)
"""The values a `product` form field or re-run override may carry."""


def read_choice(value: str) -> str | None:
    """The product chosen by `value` (any case, surrounding blanks ignored), None for auto.

    Raises ValueError naming the accepted values for anything else.
    """
    wanted = value.strip().lower()
    if wanted in ("", AUTO):
        return None
    for product in PRODUCTS:
        if product.lower() == wanted:
            return product
    shown = value.strip()[:40]
    raise ValueError(f"'{shown}' is not a product: use one of {', '.join(CHOICES)}.")
