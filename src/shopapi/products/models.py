"""Tables of products: the products and their append-only history, and the resource
they make for the kit."""

from __future__ import annotations

from ..models import Base
from ..resources import Resource, history_table
from .declaration import PRODUCT

# The columns come from the one declaration of a product's fields. AUTOINCREMENT: SQLite
# must never hand a deleted product's id (and history) to a new one.
products = PRODUCT.table(Base.metadata, "products", sqlite_autoincrement=True)
history = history_table(Base.metadata, "product_history", "product_id")
PRODUCTS = Resource(
    "products", PRODUCT, products, history, "product_id", "/api/products", event_prefix="product"
)
