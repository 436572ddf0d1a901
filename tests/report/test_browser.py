"""The run report in a real browser: Debian's chromium, headless, offline.

CI installs ``chromium`` and ``chromium-driver`` (``.ci/run``); elsewhere the test is skipped
when ``/usr/bin/chromium`` is absent. chromedriver listens on a localhost TCP port, so this
test alone lifts pytest-socket's ban (``enable_socket``); the page itself loads nothing from
anywhere (checked below).
"""

import base64
import struct
from pathlib import Path

import pytest

from spillover.report.html import build_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WIDTH = 1280

pytestmark = [
    pytest.mark.slow,
    pytest.mark.enable_socket,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian's chromium (.ci/run installs it)"
    ),
]


@pytest.fixture
def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={WIDTH},900",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_report_renders_in_chromium(demo_run, chromium, tmp_path):
    _, _, output_root = demo_run
    page = build_report(output_root, tmp_path / "report.html")
    chromium.get(page.as_uri())
    images = chromium.execute_script(
        "return [...document.images].map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(images) >= 6
    assert all(done and width > 0 and height > 0 for done, width, height in images), images
    # decoded to the last row: a truncated PNG still has a size but a transparent bottom
    opaque = chromium.execute_script(
        """return [...document.images].map(i => {
            const c = document.createElement('canvas');
            c.width = i.naturalWidth; c.height = i.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(i, 0, 0);
            return g.getImageData(i.naturalWidth - 1, i.naturalHeight - 1, 1, 1).data[3];
        })"""
    )
    assert opaque == [255] * len(images)
    errors = [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    # the embedded Japanese font loaded and has the page's glyphs
    fonts = chromium.execute_script("return [...document.fonts].map(f => f.status)")
    assert fonts == ["loaded"]
    assert chromium.execute_script(
        "return document.fonts.check('16px SpilloverJP', '実行レポート')"
    )
    # nothing was fetched but the file itself (images and font are data: URIs)
    fetched = chromium.execute_script(
        "return performance.getEntriesByType('resource').map(r => r.name)"
    )
    assert [name for name in fetched if not name.startswith("data:")] == []
    height = chromium.execute_script("return document.documentElement.scrollHeight")
    chromium.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    shot = chromium.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    png = base64.b64decode(shot["data"])
    (tmp_path / "report-screenshot.png").write_bytes(png)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (WIDTH, height)
