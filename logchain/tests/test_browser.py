"""The log viewer in a real browser: filter by node and level, search, newest line in view, the appender panel."""

import os
from pathlib import Path

import pytest

# Set LOGCHAIN_SCREENSHOTS=dir to keep a picture of the page for a person to look at.
SCREENSHOT_DIR = Path(os.environ["LOGCHAIN_SCREENSHOTS"]) if os.environ.get("LOGCHAIN_SCREENSHOTS") else None

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_filters_the_log_stream_and_sees_the_newest_line(page, login, bob, make_log, process_appender):
    for seq in range(1, 81):
        make_log(node_id=1, seq=seq, daemon_id=7, level="Info", message=f"heartbeat {seq} ok")
    make_log(node_id=1, seq=81, daemon_id=8, level="Error", message="fsync of segment 4 failed")
    make_log(node_id=2, seq=1, daemon_id=7, level="Warn", message="replica lagging by 40 writes")

    login(bob)
    page.goto("/logs/")
    lines = page.get_by_test_id("log-line")
    assert lines.count() == 82
    # Like a terminal: the newest line is at the bottom and scrolled into view.
    last = lines.last
    assert "replica lagging" in last.inner_text()
    assert last.is_visible()
    terminal = page.get_by_test_id("terminal")
    assert terminal.evaluate("el => el.scrollTop > 0 && el.scrollTop + el.clientHeight >= el.scrollHeight - 2")

    page.get_by_test_id("filter-node").fill("1")
    page.get_by_test_id("filter-level").select_option("Warn")
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url("**/logs/?*node=1*")
    assert lines.count() == 1
    assert "fsync of segment 4 failed" in lines.first.inner_text()
    assert lines.first.get_attribute("data-level") == "Error"
    colour = lines.first.locator(".lvl").evaluate("el => getComputedStyle(el).color")
    assert colour == "rgb(240, 113, 120)"

    page.get_by_role("button", name="Clear").click()
    page.wait_for_url("**/logs/")
    assert page.get_by_test_id("filter-node").input_value() == ""
    page.get_by_test_id("filter-q").fill("LAGGING")
    page.get_by_test_id("apply-filters").click()
    page.wait_for_url("**/logs/?*q=LAGGING*")
    assert lines.count() == 1
    assert "replica lagging by 40 writes" in lines.first.inner_text()
    if SCREENSHOT_DIR:
        page.screenshot(path=str(SCREENSHOT_DIR / "logchain-viewer.png"), full_page=True)

    panel = page.get_by_test_id("appender-panel")
    assert panel.get_by_test_id("appender-capacity").inner_text() == "50"
    assert panel.get_by_test_id("appender-dropped").inner_text() == "0"
