"""Tables of products: the products, their append-only history and their searched words,
and the resource they make for the kit."""

from __future__ import annotations

from ..models import Base
from ..resources import Resource, history_table
from ..resources.search import Search, token_table
from ..stock.ledger import StockEffects
from .declaration import PRODUCT

# The columns come from the one declaration of a product's fields. AUTOINCREMENT: SQLite
# must never hand a deleted product's id (and history) to a new one.
products = PRODUCT.table(Base.metadata, "products", sqlite_autoincrement=True)
history = history_table(Base.metadata, "product_history", "product_id")
tokens = token_table(Base.metadata, "product_tokens", "product_id")
PRODUCTS = Resource(
    "products",
    PRODUCT,
    products,
    history,
    "product_id",
    "/api/products",
    # Every change of a product's quantity is a stock movement; reads carry `available`.
    effects=StockEffects(),
    search=Search(tokens, "product_id", ("name", "description"), exact="sku"),
    # Its changes are webhook events: product.created, .updated, .deleted.
    event_prefix="product",
)
