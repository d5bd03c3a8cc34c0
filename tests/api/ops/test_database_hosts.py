"""A DATABASE_URL naming several hosts: the app talks to the first that serves, and moves to
the next when it stops answering, without a restart. Each "host" here is a link of its own
to the tests' MariaDB server, which the test cuts (the same on a Galera cluster:
tests/galera/)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url
from support import AuthActions, CuttableLink, product_body

pytestmark = pytest.mark.mariadb_only


@pytest.fixture
def links(database_url: str) -> Iterator[list[CuttableLink]]:
    real = make_url(database_url)
    made = [CuttableLink(real.port or 3306, real.host or "127.0.0.1") for _ in range(2)]
    yield made
    for link in made:
        link.close()


def through(database_url: str, links: list[CuttableLink]) -> str:
    """`database_url` with its host replaced by the links, in order."""
    first = make_url(database_url).set(host="127.0.0.1", port=links[0].port)
    url = first.render_as_string(hide_password=False)
    hosts = ",".join(f"127.0.0.1:{link.port}" for link in links)
    return url.replace(f"127.0.0.1:{links[0].port}", hosts, 1)


def test_an_app_whose_database_host_goes_away_moves_to_the_next_without_a_restart(
    make_app: Callable[..., Any], database_url: str, links: list[CuttableLink]
) -> None:
    app = make_app(database_url=through(database_url, links))
    client = app.test_client()
    headers = AuthActions(client).headers()
    assert client.post("/api/products", json=product_body(), headers=headers).status_code == 201
    assert links[0].connections() > 0 and links[1].connections() == 0

    links[0].cut()
    answers = []
    while len(answers) < 5 and 201 not in answers:
        answers.append(
            client.post("/api/products", json=product_body(), headers=headers).status_code
        )
    assert answers[-1] == 201 and set(answers) <= {201, 503}, answers
    assert links[1].connections() > 0

    # Back, the first host gets no connection: the app stays where it moved.
    links[0].restore()
    for _ in range(3):
        assert client.get("/api/products", headers=headers).status_code == 200
        assert client.post("/api/products", json=product_body(), headers=headers).status_code == 201
    assert links[0].connections() == 0
