"""The web console (`/_hako/console/`) in headless Chromium (Debian's chromium and
chromium-driver), driven by selenium: the pages load from the binary alone, the plots draw from
the invocations the test made, recent invocations show cold/warm and errors, the live log shows
a line printed after the page opened, and environment variable values never reach the page.

One browser and one server for the module (the server samples its metrics every 300 ms, a hidden
flag, so a plot has the test's invocations within a second). Every wait is bounded. The browser
reaches nothing but loopback: background networking, component updates, sync and the like are
off, and the page itself loads nothing from elsewhere (its Content-Security-Policy is 'self').
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import (HakoServer, boto_lambda_client, create_function, fixture_zip, unique_name,
                      wait_for)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console.png"
SECRET = "s3cr3t-value-never-shown"

if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()) and os.environ.get("CI") != "true":
    pytest.skip("chromium and chromium-driver are not installed (scripts/test installs them)",
                allow_module_level=True)

# Selenium's manager looks for drivers on the internet unless told it is offline.
os.environ.setdefault("SE_OFFLINE", "true")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT_S = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("hako-console")
    s = HakoServer(base / "data", base / "hako.log",
                   extra_args=["--console-sample-ms", "300"]).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return boto_lambda_client(server.endpoint)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1700", f"--user-data-dir={profile}",
                # Nothing but the page: no traffic of the browser's own.
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--disable-default-apps", "--disable-extensions",
                "--disable-client-side-phishing-detection", "--disable-domain-reliability",
                "--no-first-run", "--no-default-browser-check", "--metrics-recording-only",
                "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
                "--no-proxy-server"]:
        o.add_argument(arg)
    d = webdriver.Chrome(service=Service(executable_path=DRIVER), options=o)
    d.set_page_load_timeout(WAIT_S)
    d.set_script_timeout(WAIT_S)
    yield d
    d.quit()


def wait(d, cond, what):
    return WebDriverWait(d, WAIT_S, poll_frequency=0.1).until(lambda _: cond(), message=what)


def invoke(client, name, event):
    r = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert r["StatusCode"] == 200
    return r


def plotted(d, chart: str, series: int) -> float:
    """The sum of one series of a uPlot chart as the page drew it (null points as 0)."""
    return d.execute_script(
        "const c = window.hakoConsole.charts[arguments[0]];"
        "return c ? c.data[arguments[1]].reduce((a, v) => a + (v || 0), 0) : -1;", chart, series)


def test_functions_plots_and_recent_invocations(server, client, browser):
    name = unique_name("console")
    create_function(client, name, "provided.al2023", "bootstrap", fixture_zip("rust-echo"),
                    Environment={"Variables": {"API_TOKEN": SECRET}}, MemorySize=256)
    browser.get(server.endpoint + "/_hako/console/")
    wait(browser, lambda: name in browser.find_element(By.ID, "functions").text, "functions list")
    assert browser.title == "Hako console"
    # Five invocations, one a function error; the page plots them without a reload.
    for i in range(4):
        invoke(client, name, {"log": f"call-{i}"})
    r = invoke(client, name, {"fail": "on purpose"})
    assert r["FunctionError"] == "Unhandled"
    wait(browser, lambda: plotted(browser, "invocations", 1) >= 5, "5 invocations plotted")
    assert plotted(browser, "invocations", 1) == 5
    wait(browser, lambda: plotted(browser, "invocations", 2) >= 1, "the error plotted")
    assert plotted(browser, "invocations", 2) == 1
    # Durations come from the histogram of the same invocations.
    assert plotted(browser, "duration", 1) > 0
    # The plot is drawn on its canvas: pixels of the series' colour are there.
    drawn = browser.execute_script(
        "const c = window.hakoConsole.charts.invocations.ctx.canvas;"
        "const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 0; i < px.length; i += 4) {"
        "  if (px[i] === 0x25 && px[i+1] === 0x63 && px[i+2] === 0xeb) n++; } return n;")
    assert drawn > 0
    # Recent invocations: the first was cold, the rest warm, the last an EchoError.
    box = browser.find_element(By.ID, "invocations")
    wait(browser, lambda: "EchoError" in box.text, "recent invocations")
    rows = [r.text for r in box.find_elements(By.CSS_SELECTOR, "tbody tr") if name in r.text]
    assert len(rows) == 5, rows
    assert "EchoError" in rows[0] and "warm" in rows[0]
    assert "cold" in rows[-1] and "Success" in rows[-1]
    # Environment values never reach the page, names do.
    browser.get(server.endpoint + f"/_hako/console/#/functions/{name}")
    wait(browser, lambda: "API_TOKEN" in browser.find_element(By.ID, "env-names").text,
         "environment names")
    assert SECRET not in browser.page_source
    for path in ["functions", f"functions/{name}", f"functions/{name}/versions"]:
        assert SECRET not in browser.execute_async_script(
            "fetch('/_hako/console/api/' + arguments[0]).then(r => r.text()).then(arguments[1])",
            path)


def test_live_log_shows_a_line_printed_after_the_page_opened(server, client, browser, tmp_path):
    name = unique_name("console-log")
    create_function(client, name, "provided.al2023", "bootstrap", fixture_zip("rust-echo"))
    client.publish_version(FunctionName=name)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    invoke(client, name, {"log": "before-the-page"})
    browser.get(server.endpoint + f"/_hako/console/#/functions/{name}")
    log = browser.find_element(By.ID, "log")
    wait(browser, lambda: "before-the-page" in log.text, "the lines already there")
    wait(browser, lambda: "live" in browser.find_element(By.ID, "aliases").text, "aliases")
    assert "1" in browser.find_element(By.ID, "versions").text
    marker = f"after-the-page-{unique_name('m')}"
    invoke(client, name, {"log": marker})
    wait(browser, lambda: marker in log.text, "the new line in the live log")
    assert log.text.count("before-the-page") == 1
    # The function's plots are its own.
    wait(browser, lambda: plotted(browser, "invocations", 1) >= 2, "its invocations plotted")
    assert plotted(browser, "invocations", 1) == 2
    # README's picture: HAKO_SCREENSHOT=1 writes it to docs/console.png.
    shot = SCREENSHOT if os.environ.get("HAKO_SCREENSHOT") == "1" else tmp_path / "console.png"
    assert browser.save_screenshot(str(shot))


def test_queues_streams_mappings_and_schedules(server, client, browser):
    import boto3
    from conftest import CREDENTIALS, REGION
    sqs = boto3.client("sqs", endpoint_url=server.endpoint, region_name=REGION, **CREDENTIALS)
    queue = unique_name("console-q")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    kinesis = boto3.client("kinesis", endpoint_url=server.endpoint, region_name=REGION, **CREDENTIALS)
    stream = unique_name("console-s")
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    browser.get(server.endpoint + "/_hako/console/#/sources")
    wait(browser, lambda: queue in browser.find_element(By.ID, "queues").text, "the queue")
    wait(browser, lambda: stream in browser.find_element(By.ID, "streams").text, "the stream")
    assert "No event source mapping." in browser.find_element(By.ID, "mappings").text
    assert browser.find_element(By.ID, "schedules").text


def test_console_api_errors_and_assets(server):
    import urllib.request
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.endpoint + "/_hako/console/api/functions/nope", timeout=10)
    assert e.value.code == 404
    assert "Function not found" in json.loads(e.value.read())["error"]
    with urllib.request.urlopen(server.endpoint + "/_hako/console/assets/uPlot.iife.min.js",
                                timeout=10) as r:
        assert r.headers["content-type"].startswith("text/javascript")
        assert b"uPlot" in r.read()
    # Function URLs keep their own prefix.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.endpoint + "/_hako/urls/nope/", timeout=10)
    assert e.value.code != 200
