"""Word search of a resource's text fields, the same on every backend: a token table.

Each word of the searched fields (a run of letters and digits, without regard to case or
accents: "Café" is `cafe`) is a row `(resource id, token)`, written in the same
transaction as the resource. A word of a query matches a resource when it begins one of
its tokens: `token >= 'caf' AND token < 'cag'`, one range of the token index. Tokens are
compared by code point on both backends (MariaDB's `utf8mb4_nopad_bin`, SQLite's BINARY),
so a prefix's range holds exactly the tokens that begin with it. No stopwords, no minimum
token length: a word such as "the" is a token like any other.

How a page of a search is read depends on how common its words are (see `Search.counts`):
a word whose range is short drives the page (its range is read, the other words are probed
per row by the token table's primary key); when every word is common, the page walks the
sort's index and probes each row's tokens, stopping as soon as the page is full. Either
way the answer is the same; only the work differs.
"""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
)

# Longer words are cut to this length (and so are a query's words): no real word is.
TOKEN_LENGTH = 64
# An exact key (a SKU) is a token too, marked so that no word's range holds it: a search
# is then one index range per word of the query, with no OR outside it, which MariaDB turns
# into a semi-join it can drive from whichever side is smaller.
EXACT_MARK = "#"
# The words of a query shorter than this are ignored.
SHORTEST_WORD = 3
_WORD = re.compile(r"[^\W_]+")
# A word whose token range holds this many entries is common: reading its whole range costs
# more than walking the sort's index until a page is full (at a million products, about
# sqrt(51 * 1,000,000) entries is where the two meet). Counting stops here, so a count costs
# at most this many index entries, read once per word and kept a while (see `counts`).
COMMON = 5000
# A page of words that are all common walks the sort's index, probing each row, and stops
# at its `limit + 1`th match or at this many rows, whichever comes first: words that are
# each common but seldom meet cost a page this many probes at most, and the page says
# where it stopped (its next cursor), however few matches it holds.
WALK = 5_000
# Counts are kept this long, for this many words, per process: a count only chooses how a
# page is read, never what it holds, so one that is minutes old is good enough.
COUNTS_KEPT_SECONDS = 300.0
COUNTS_KEPT = 4096
TOKEN_TYPE = String(TOKEN_LENGTH + 1).with_variant(
    String(TOKEN_LENGTH + 1, collation="utf8mb4_nopad_bin"), "mysql", "mariadb"
)


def fold(text: str) -> str:
    """`text` without case or accents: compatibility-decomposed, marks dropped, casefolded."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", bare.casefold())


def words(text: str | None) -> list[str]:
    """The words of `text` as tokens: folded runs of letters and digits, in order."""
    if not text:
        return []
    return [word[:TOKEN_LENGTH] for word in _WORD.findall(fold(text))]


def query_words(text: str) -> list[str]:
    """The words of a query that must each begin a token: those of 3 or more characters,
    without repeats and without a word that begins another (which adds nothing)."""
    long = sorted({w for w in words(text) if len(w) >= SHORTEST_WORD})
    return [w for i, w in enumerate(long) if not (i + 1 < len(long) and long[i + 1].startswith(w))]


def after_prefix(prefix: str) -> str:
    """The least string greater than every string that begins with `prefix`."""
    last = ord(prefix[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates are not characters; skip past them
        last = 0xE000
    return prefix[:-1] + chr(last)


def exact_token(value: str) -> str:
    return EXACT_MARK + value.lower()


def token_table(metadata: MetaData, name: str, key: str, **options: Any) -> Table:
    """`(key, token)`, unique: looked up by token (a query's word) and by key (a rewrite)."""
    return Table(
        name,
        metadata,
        Column(key, BigInteger(), nullable=False),
        Column("token", TOKEN_TYPE, nullable=False),
        PrimaryKeyConstraint(key, "token", name=f"pk_{name}"),
        Index(f"ix_{name}_token", "token", key),
        **options,
    )


def _begins(token: Any, n: int, *, exact: bool) -> ColumnElement[bool]:
    """`token` begins word `n` of the query (bound as `q_lo_<n>`, `q_hi_<n>`), or, when
    `exact`, is the exact key (`q_exact`)."""
    condition: ColumnElement[bool] = and_(
        token >= bindparam(f"q_lo_{n}"), token < bindparam(f"q_hi_{n}")
    )
    if exact:
        condition = or_(token == bindparam("q_exact"), condition)
    return condition


@dataclass(frozen=True)
class Search:
    """Which text fields of a resource are searched, and the table of their tokens."""

    table: Table
    key: str  # the token table's column naming the resource
    fields: Sequence[str]
    # A field matched whole, without regard to case (a SKU: ASCII, so lower() is exact).
    exact: str | None = None
    _counts: OrderedDict[str, tuple[float, int]] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )
    _counts_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def written_from(self) -> tuple[str, ...]:
        return (*self.fields, *((self.exact,) if self.exact else ()))

    def tokens(self, values: Mapping[str, Any]) -> set[str]:
        found = {token for name in self.fields for token in words(values.get(name))}
        key = values.get(self.exact) if self.exact else None
        if key:
            found.add(exact_token(key))
        return found

    def rows(self, resource_id: int, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{self.key: resource_id, "token": t} for t in sorted(self.tokens(values))]

    def write(self, conn: Connection, resource_id: int, values: Mapping[str, Any]) -> None:
        """Replace the resource's tokens by those of `values`."""
        self.forget(conn, resource_id)
        rows = self.rows(resource_id, values)
        if rows:
            conn.execute(insert(self.table), rows)

    def forget(self, conn: Connection, resource_id: int) -> None:
        conn.execute(delete(self.table).where(self.table.c[self.key] == resource_id))

    def matching(self, n: int, *, exact: bool) -> Any:
        """A SELECT of the keys of resources with a token that begins word `n` (bound as
        `q_lo_<n>` and `q_hi_<n>`, see `bind`), or, when `exact`, whose exact key is
        `q_exact`: (exact OR w0) AND (exact OR w1) is exact OR (w0 AND w1)."""
        part = self.table.alias(f"{self.table.name}_{n}")
        return select(part.c[self.key]).where(_begins(part.c.token, n, exact=exact))

    def probe(self, table: Table, n: int, *, exact: bool) -> ColumnElement[bool]:
        """Whether the row of `table` has a token that begins word `n` (or, when `exact`,
        is the exact key): one lookup of the token table's primary key `(key, token)`.
        A scalar subquery, so that no database turns it into a join it reads whole."""
        part = self.table.alias(f"{self.table.name}_probe_{n}")
        found = (
            select(literal(1))
            .where(part.c[self.key] == table.c.id, _begins(part.c.token, n, exact=exact))
            .limit(1)
            .scalar_subquery()
        )
        return found.is_not(None)

    def counts(self, conn: Connection, query_words: Sequence[str]) -> list[int]:
        """How many tokens begin each word, counted up to `COMMON`: one statement for the
        words not counted in the last `COUNTS_KEPT_SECONDS`, none when all were."""
        now = time.monotonic()
        known: dict[str, int] = {}
        with self._counts_lock:
            for word in query_words:
                kept = self._counts.get(word)
                if kept is not None and now - kept[0] < COUNTS_KEPT_SECONDS:
                    known[word] = kept[1]
        missing = [w for w in query_words if w not in known]
        if missing:
            token = self.table.c.token
            capped = [
                select(func.count())
                .select_from(
                    select(literal(1))
                    .where(token >= bindparam(f"lo_{n}"), token < bindparam(f"hi_{n}"))
                    .limit(COMMON)
                    .subquery(f"counted_{n}")
                )
                .scalar_subquery()
                for n in range(len(missing))
            ]
            params = {}
            for n, word in enumerate(missing):
                params[f"lo_{n}"], params[f"hi_{n}"] = word, after_prefix(word)
            row = conn.execute(select(*capped), params).one()
            with self._counts_lock:
                for word, count in zip(missing, row, strict=True):
                    known[word] = int(count)
                    self._counts[word] = (now, int(count))
                    self._counts.move_to_end(word)
                while len(self._counts) > COUNTS_KEPT:
                    self._counts.popitem(last=False)
        return [known[w] for w in query_words]

    def forget_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    @staticmethod
    def bind(query_words: Iterable[str]) -> dict[str, str]:
        params = {}
        for n, word in enumerate(query_words):
            params[f"q_lo_{n}"], params[f"q_hi_{n}"] = word, after_prefix(word)
        return params
