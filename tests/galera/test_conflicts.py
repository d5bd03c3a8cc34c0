"""How the cluster aborts a transaction that loses to a write on another node, as the
service's engines see it: MariaDB's deadlock error (1213), at COMMIT for the loser of
certification, on the next statement for a transaction a replicated write aborted. The unit
of work takes both for a conflict and runs the request again (`conflict_cause`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from support.galera import node_url

from shopapi.db import conflict_cause, make_engine

pytestmark = [pytest.mark.galera, pytest.mark.e2e]


@pytest.fixture
def two_nodes(cluster_database: str) -> Iterator[tuple[Connection, Connection]]:
    """A connection on node 1 and one on node 2, as the service opens them, and a row."""
    engines = [make_engine(node_url(n, cluster_database)) for n in (1, 2)]
    with engines[0].begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS tally (id INT PRIMARY KEY, n INT)"))
        conn.execute(text("REPLACE INTO tally VALUES (1, 0)"))
    one, two = (engine.connect() for engine in engines)
    yield one, two
    one.close()
    two.close()
    for engine in engines:
        engine.dispose()


def test_the_loser_of_certification_fails_at_commit_with_a_conflict(
    two_nodes: tuple[Connection, Connection],
) -> None:
    one, two = two_nodes
    one.execute(text("UPDATE tally SET n = n + 1 WHERE id = 1"))
    two.execute(text("UPDATE tally SET n = n + 10 WHERE id = 1"))  # no lock held across nodes
    one.commit()
    with pytest.raises(DBAPIError) as lost:
        two.commit()
    assert conflict_cause(lost.value) == "deadlock"
    two.rollback()
    assert two.execute(text("SELECT n FROM tally WHERE id = 1")).scalar_one() == 1


def test_a_transaction_aborted_by_a_replicated_write_fails_before_it_commits(
    two_nodes: tuple[Connection, Connection],
) -> None:
    one, two = two_nodes
    two.execute(text("UPDATE tally SET n = n + 10 WHERE id = 1"))  # holds the row on node 2
    one.execute(text("UPDATE tally SET n = n + 1 WHERE id = 1"))
    one.commit()  # applied on node 2, it aborts the transaction there that holds the row
    with pytest.raises(DBAPIError) as aborted:
        # The abort reaches the transaction on its next statement, or, when that statement
        # ran before node 2 applied the write, at its COMMIT: never is it kept.
        two.execute(text("SELECT n FROM tally WHERE id = 1"))
        two.commit()
    assert conflict_cause(aborted.value) == "deadlock"
    two.rollback()
    assert two.execute(text("SELECT n FROM tally WHERE id = 1")).scalar_one() == 1
