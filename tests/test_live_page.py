"""``GET /simstatus/``: the live page of a served simulation, in a real browser (issue 13).

Headless Chromium driven by Selenium loads the page from a :class:`~simstatus.testing.SimulatedNova`
(built-in defaults, manual clock, so every instant is exact), crashes a host with the page's
button, advances the clock 61 s with the page's field and button, and waits until that host's cell
says UNKNOWN; the server's own answer is the oracle.  A screenshot is saved under ``tmp_path`` (its
path is printed) and, when ``SIMSTATUS_TEST_ARTIFACTS`` names a directory (CI may set it to
``test-artifacts``), copied there too.

The browser is Debian's ``chromium`` and ``chromedriver`` when installed (``/usr/bin``), else
whatever Selenium Manager finds or downloads; if neither works the tests fail, saying what to
install (they are never skipped).  The cheap checks (routes without a token, colours, no other
origin) need no browser.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from simstatus.api.page import ASSETS
from simstatus.plotting import STATUS_COLORS
from simstatus.testing import SimulatedNova

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS_ENV = "SIMSTATUS_TEST_ARTIFACTS"
STATIC = Path(__file__).resolve().parents[1] / "simstatus" / "api" / "static"
WAIT = 30.0  # liveness bound for the page to show an answer (it polls every second)
TENANT = SimulatedNova.tenant_token("tenant-0")


@pytest.fixture(scope="module")
def nova():
    """The built-in defaults (20 hosts, Nova's policy, no faults) on loopback, manual clock."""
    with SimulatedNova(clock="manual") as served:
        yield served


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium: Debian's when present, else Selenium Manager's; a failure (not a skip)
    when none starts."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1100"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's script errors, for _no_script_errors
    if CHROMIUM.exists():
        options.binary_location = str(CHROMIUM)
    service = Service(str(CHROMEDRIVER)) if CHROMEDRIVER.exists() else Service()
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as e:
        pytest.fail(f"cannot start headless Chromium ({str(e).splitlines()[0]}): install Debian's browser "
                    "(apt-get install chromium chromium-driver) or give Selenium Manager internet access to "
                    "download one", pytrace=False)
    driver.set_page_load_timeout(WAIT)
    yield driver
    driver.quit()


def _lines(driver) -> str:
    """The page's message lines, for a failure message."""
    from selenium.webdriver.common.by import By

    lines = ("message", "refresh-status", "stream-status")
    return " | ".join(f"{i}: {driver.find_element(By.ID, i).text!r}" for i in lines)


def _wait(driver, condition, what: str):
    """``condition(driver)`` once truthy, within :data:`WAIT` s; else fail naming ``what`` and the page's lines."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition)
    except TimeoutException:
        pytest.fail(f"the page did not show {what} within {WAIT:g} s; its lines: {_lines(driver)}", pytrace=False)


def _cell(host: str, status: str | None = None) -> str:
    return f'.cell[data-host="{host}"]' + ("" if status is None else f'[data-status="{status}"]')


def _open(driver, nova: SimulatedNova, host: str):
    """Load the page with the admin token and select ``host`` once its cell shows UP."""
    from selenium.webdriver.common.by import By

    driver.get(f"{nova.url}/simstatus/")
    _wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, _cell(host, "UP")), f"{host} UP")
    driver.find_element(By.CSS_SELECTOR, _cell(host)).click()
    _wait(driver, lambda d: d.find_element(By.ID, "crash").is_enabled(), "the crash button enabled")


def _no_script_errors(driver) -> None:
    """The page's script threw nothing (failed requests it shows are the network's, not errors here)."""
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE" and e["source"] != "network"]
    assert not errors, errors


def _save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    assert driver.save_screenshot(str(path)), "the browser could not take a screenshot"
    print(f"screenshot: {path}")
    target = os.environ.get(ARTIFACTS_ENV)
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        print(f"screenshot copied to {shutil.copy(path, Path(target) / name)}")
    return path


def _host_status(nova: SimulatedNova, host: str) -> set[str]:
    """What the API itself says of ``host``'s servers (admin, 2.16): the oracle for the page."""
    response = httpx.get(f"{nova.url}/v2.1/servers/detail", params={"all_tenants": "1", "host": host},
                         headers={"X-Auth-Token": nova.admin_token, "X-OpenStack-Nova-API-Version": "2.16"})
    assert response.status_code == 200, response.text
    return {s["host_status"] for s in response.json()["servers"]}


@pytest.mark.slow
def test_crash_button_and_61_s_advance_turn_the_host_unknown(browser, nova, tmp_path):
    from selenium.webdriver.common.by import By

    host = nova.hosts[3]
    start = nova.now()
    _open(browser, nova, host)
    browser.find_element(By.ID, "crash").click()
    _wait(browser, lambda d: "done" in d.find_element(By.ID, "message").text, "the crash answered")
    crashes = [f for f in nova.faults() if f["source"] == "api"]
    assert [(f["kind"], f["hosts"], f["start"], f["active"]) for f in crashes] == [("host_crash", [host], start, True)]

    field = browser.find_element(By.ID, "advance-seconds")
    field.clear()
    field.send_keys("61")
    browser.find_element(By.ID, "advance").click()
    cell = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, _cell(host, "UNKNOWN")), f"{host} UNKNOWN")[0]
    _save_screenshot(browser, tmp_path, "live_page_unknown.png")

    assert nova.now() == start + 61.0  # one advance, of exactly what was typed
    assert _host_status(nova, host) == {"UNKNOWN"}
    assert cell.find_element(By.CSS_SELECTOR, ".status").text == "UNKNOWN"  # a text label, not colour only
    others = {c.get_attribute("data-host"): c.get_attribute("data-status")
              for c in browser.find_elements(By.CSS_SELECTOR, ".cell") if c.get_attribute("data-host") != host}
    assert sorted(others) == sorted(h for h in nova.hosts if h != host)
    assert set(others.values()) == {"UP"}
    _wait(browser, lambda d: f"t = {start + 61.0:.1f} s" in d.find_element(By.ID, "clock").text, "the clock at 61 s")
    transitions = browser.find_element(By.ID, "transitions").text
    assert re.search(rf"t = {start + 61.0:.1f} s .*: {host} UP → UNKNOWN", transitions), transitions
    _no_script_errors(browser)


@pytest.mark.slow
def test_an_action_with_a_tenant_token_shows_the_403(browser, nova, tmp_path):
    from selenium.webdriver.common.by import By

    host = nova.hosts[5]
    _open(browser, nova, host)
    before = nova.faults()
    token = browser.find_element(By.ID, "token")
    assert token.get_attribute("value") == "admin:admin"  # pre-filled with noauth2's admin
    token.clear()
    token.send_keys(TENANT)
    browser.find_element(By.ID, "partition").click()
    message = _wait(browser, lambda d: (lambda t: "403" in t and t)(d.find_element(By.ID, "message").text),
                    "the 403")
    assert "POST /simstatus/faults: 403 Policy doesn't allow simstatus:control to be performed." in message
    assert "error" in browser.find_element(By.ID, "message").get_attribute("class")
    # the refresh with the tenant token fails too, and says so rather than going quiet
    _wait(browser, lambda d: "403" in d.find_element(By.ID, "refresh-status").text, "the refresh's 403")
    assert "closed" in browser.find_element(By.ID, "stream-status").text  # not read on with the admin's token
    assert nova.faults() == before  # nothing started
    _save_screenshot(browser, tmp_path, "live_page_403.png")
    _no_script_errors(browser)


def test_the_page_and_its_assets_load_without_a_token(nova):
    """No token needed to load; the actions, not the page, are checked; no cache of stale code."""
    for path, media in (("/simstatus/", "text/html"), ("/simstatus/page.js", "text/javascript"),
                        ("/simstatus/page.css", "text/css")):
        response = httpx.get(nova.url + path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith(media)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-simstatus-clock"]  # served through the same middleware as the API
    assert httpx.get(nova.url + "/simstatus/clock").status_code == 401  # the routes it calls still need one


def test_no_other_new_route_and_not_in_the_openapi_document(nova):
    for path in ("/simstatus", "/simstatus/page.html", "/simstatus/static/page.js"):
        response = httpx.get(nova.url + path)
        assert response.status_code == 404 and "itemNotFound" in response.json(), path
    doc = httpx.get(nova.url + "/openapi.json").json()
    assert "/simstatus/" not in doc["paths"] and "/simstatus/page.js" not in doc["paths"]


def test_page_colours_are_the_figures_okabe_ito_colours():
    css = (STATIC / "page.css").read_text(encoding="utf-8")
    found = dict(re.findall(r'\[data-status="([A-Z]*)"\] \{ background: (#[0-9A-Fa-f]{6});', css))
    assert found == STATUS_COLORS


def test_the_page_loads_nothing_from_another_origin_and_ships_in_the_package():
    text = "\n".join((STATIC / name).read_text(encoding="utf-8") for name in ASSETS)
    assert not re.search(r"(?:src|href)=\"(?!/simstatus/|data:,\")", text)  # no CDN, no other site
    assert "innerHTML" not in text  # server text goes in as textContent only
    assert not re.search(r"<script>|<style>| on[a-z]+=", (STATIC / "page.html").read_text())  # CSP-safe
    assert sorted(p.name for p in STATIC.iterdir()) == sorted(ASSETS)
