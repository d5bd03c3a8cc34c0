"""The catalogue in the console, in headless Chromium against a real server.

A staff member searches the products, sorts them by price with a click on the column,
narrows them to what is out of stock, shares the address of that view (it opens the same
view), exports it as CSV, and imports a spreadsheet: the dry run names the bad line and
changes nothing, the corrected file is checked again and imported. Every screen is checked
with axe-core.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from chromium import RequestLog, no_page_errors, same_origin_only
from console_driver import Console
from selenium.webdriver.support.ui import Select
from support import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.sqlite_only]


def names(console: Console) -> list[str]:
    return [row[0] for row in console.rows()]


def test_staff_search_sort_filter_export_and_import_the_catalogue(
    console: Console, live_server: LiveServer, downloads: Path, tmp_path: Path
) -> None:
    driver = console.driver
    seen = RequestLog(driver)
    console.sign_up("carla")
    for name, sku, price, quantity in [
        ("Brass desk lamp", "LAMP-1", "45.00", 3),
        ("Café table", "TBL-7", "120.00", 0),
        ("Floor lamp", "LAMP-2", "80.00", 0),
        ("Oak chair", None, "60.00", 5),
    ]:
        console.click("New product")
        console.on_page("New product")
        console.fill("Name", name)
        if sku:
            console.fill("SKU", sku)
        console.fill("Price", price)
        console.fill("Quantity", str(quantity))
        console.button("Create product").click()
        console.on_page(name)
        console.click("Products")
        console.on_page("Products")

    # Search: words begin words of the name, without regard to accents; a SKU matches too.
    console.fill("Search", "cafe")
    console.button("Search").click()
    console.wait(lambda: names(console) == ["Café table"])
    console.fill("Search", "oak")
    console.button("Search").click()
    console.wait(lambda: names(console) == ["Oak chair"])
    console.fill("Search", "tbl-7")  # no word begins with "tbl": the SKU alone
    console.button("Search").click()
    console.wait(lambda: names(console) == ["Café table"])
    console.fill("Search", "lamp")
    console.button("Search").click()
    console.wait(lambda: names(console) == ["Brass desk lamp", "Floor lamp"])

    # Sort by price with a click on its header, then the other way with a second click.
    console.click("Clear")
    console.wait(lambda: len(names(console)) == 4)
    sort_by(console, "Price")
    console.wait(lambda: names(console)[0] == "Brass desk lamp")
    assert names(console) == ["Brass desk lamp", "Oak chair", "Floor lamp", "Café table"]
    sort_by(console, "Price")
    console.wait(lambda: names(console)[0] == "Café table")
    assert "sort=-price" in driver.current_url

    # None available, most expensive first: the address holds the view; opened again, the same.
    Select(console.field("Stock")).select_by_visible_text("none available")
    console.button("Search").click()
    console.wait(lambda: names(console) == ["Café table", "Floor lamp"])
    console.check("catalogue-search", docs=True)
    shared = driver.current_url
    assert "in_stock=false" in shared and "sort=-price" in shared
    driver.get(f"{live_server.url}/#/account")
    console.on_page("Your account")
    console.shows("carla")
    driver.get(shared)
    console.on_page("Products")
    console.wait(lambda: names(console) == ["Café table", "Floor lamp"])

    # Export the view: its products, in its order, as CSV.
    console.button("Export CSV").click()
    exported = list(csv.DictReader(io.StringIO(console.downloaded(downloads, pattern="*.csv"))))
    assert [(r["name"], r["sku"], r["available"]) for r in exported] == [
        ("Café table", "TBL-7", "0"),
        ("Floor lamp", "LAMP-2", "0"),
    ]

    # Import: a dry run names the bad line and changes nothing; then the corrected file.
    bad = tmp_path / "restock.csv"
    bad.write_text("sku,quantity,price\nTBL-7,4,\nLAMP-2,6,abc\nNEW-1,2,9.50\n")
    console.click("Import CSV")
    console.on_page("Import products")
    console.field("CSV file").send_keys(str(bad))
    console.button("Check file").click()
    assert "nothing was changed" in console.alert()
    problems = console.rows("import-errors")
    assert [row[0] for row in problems] == ["2", "3", "4"]  # empty price, bad price, no name
    console.check("catalogue-import-refused", docs=True)
    good = tmp_path / "restock-fixed.csv"
    good.write_text("sku,quantity\ntbl-7,4\nLAMP-2,6\n")
    console.field("CSV file").send_keys(str(good))
    console.button("Check file").click()
    console.shows("0 products would be created, 2 updated, 0 unchanged")
    console.button("Import").click()
    console.on_page("Products")
    assert "Imported" in console.flash() and "2 updated" in console.flash()
    # Name, SKU, description, price, quantity, available: the import moved the stock.
    console.wait(lambda: len(names(console)) == 4)
    available = {row[1]: row[5] for row in console.rows()}
    assert (available["TBL-7"], available["LAMP-2"], available["LAMP-1"]) == ("4", "6", "3")
    no_page_errors(driver, 422)
    same_origin_only(seen.collect(), live_server.url)


def sort_by(console: Console, column: str) -> None:
    """Click the header of `column` (its button reads the name and, when sorted, an arrow)."""
    console.find(
        f"//th//button[starts-with(normalize-space(.), '{column}')]", f"the {column} header"
    ).click()
