"""The resource kit: what every versioned resource of the API shares.

- `declaration`: a resource's fields, declared once (columns, schemas, API and SQL forms);
- `tables`: the shape of its history table, and the idempotency keys of every resource;
- `resource.Resource`: a declaration, its tables and its path, handed to the rest;
- `versioned`: creates, and changes and deletes under If-Match (`etags`), with history;
- `bulk`: many creates and changes at once (an import), as `versioned` makes each one;
- `idempotency`: retried creates answered once per (account, resource, operation, key),
  `create_once()` in a create view;
- `pages`: `keyset_page()`, the cursor page of lists in key order;
- `listing`: a resource's list with filters and a sort on any sortable field, keyset too;
- `search`: the words of a resource's text fields, kept in a token table for `q`;
- `reads`: one, a page and the history of a resource, each one round trip with the
  caller's probe (`checked_read`).
"""

from __future__ import annotations

from .declaration import Declaration, Field
from .resource import Resource
from .tables import history_table

__all__ = ["Declaration", "Field", "Resource", "history_table"]
