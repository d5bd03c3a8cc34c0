"""Which MariaDB driver a DATABASE_URL gets: the one it names, else the faster one installed."""

from __future__ import annotations

import sys

import pytest

from shopapi.db import normalise_url
from shopapi.db.hosts import host_urls


@pytest.mark.parametrize("scheme", ["mysql", "mariadb"])
def test_a_url_naming_no_driver_gets_mysqlclient_when_it_is_installed(scheme: str) -> None:
    pytest.importorskip("MySQLdb", reason="mysqlclient is not built on this machine")
    url = normalise_url(f"{scheme}://shop:secret@db:3306/shop")
    assert url.drivername == "mysql+mysqldb"
    assert url.query["charset"] == "utf8mb4"


def test_without_mysqlclient_a_url_naming_no_driver_gets_pymysql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "MySQLdb", None)  # import MySQLdb now fails
    assert normalise_url("mysql://shop@db/shop").drivername == "mysql+pymysql"


@pytest.mark.parametrize(
    ("given", "driver"),
    [
        ("mysql+pymysql://shop@db/shop", "mysql+pymysql"),
        ("mariadb+pymysql://shop@db/shop", "mysql+pymysql"),
        ("mysql+mysqldb://shop@db/shop", "mysql+mysqldb"),
    ],
)
def test_a_named_driver_is_kept(given: str, driver: str) -> None:
    assert normalise_url(given).drivername == driver


def test_a_charset_given_is_kept_and_sqlite_is_left_alone() -> None:
    assert normalise_url("mysql+pymysql://s@db/shop?charset=latin1").query["charset"] == "latin1"
    assert normalise_url("sqlite:///shop.sqlite3").render_as_string() == "sqlite:///shop.sqlite3"


def test_a_url_naming_several_hosts_names_each_in_turn() -> None:
    url = "mysql://shop:p%40ss@db1:3311, db2:3312,[::1]:3313/shop?charset=utf8mb4"
    assert host_urls(url) == [
        "mysql://shop:p%40ss@db1:3311/shop?charset=utf8mb4",
        "mysql://shop:p%40ss@db2:3312/shop?charset=utf8mb4",
        "mysql://shop:p%40ss@[::1]:3313/shop?charset=utf8mb4",
    ]
    first = normalise_url(url)
    assert (first.host, first.port, first.database, first.password) == (
        "db1",
        3311,
        "shop",
        "p@ss",
    )


@pytest.mark.parametrize(
    "url", ["mysql://shop@db:3306/shop", "mysql://db/shop", "sqlite:///a,b.sqlite3"]
)
def test_a_url_naming_one_host_is_left_as_it_is(url: str) -> None:
    assert host_urls(url) == [url]
