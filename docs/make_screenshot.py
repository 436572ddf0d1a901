"""Regenerate docs/report-screenshot.png: the demo's run report in headless Chromium, 1280 px wide.

Usage (after ``make demo``; needs Debian's ``chromium`` and ``chromium-driver``)::

    .venv/bin/python docs/make_screenshot.py [--output-root demo/output] [--lang ja]

The report is rendered into a temporary file (the publication's own report is left alone) and
the whole page is captured: Chromium's DevTools full-page screenshot at 1280 CSS pixels.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from spillover.report.html import build_report

WIDTH = 1280
SCREENSHOT = Path(__file__).resolve().parent / "report-screenshot.png"


def headless_chromium(width: int = WIDTH) -> webdriver.Chrome:
    """Debian's chromium driven by its chromedriver, headless, ``width`` px wide."""
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={width},900",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def full_page_png(driver: webdriver.Chrome, width: int = WIDTH) -> bytes:
    """The whole page (not only the window) as PNG, ``width`` CSS pixels wide."""
    import base64

    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    return base64.b64decode(shot["data"])


def _write_small_png(png: bytes, out: Path) -> None:
    """Save ``png`` with a 128-colour palette (a third of the size; text stays sharp)."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def main() -> None:
    """Render the report and write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-root", type=Path, default=Path("demo/output"))
    parser.add_argument("--lang", choices=("ja", "en"), default="ja")
    parser.add_argument("--out", type=Path, default=SCREENSHOT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        page = build_report(args.output_root, Path(folder) / "report.html", lang=args.lang)
        driver = headless_chromium()
        try:
            driver.get(page.as_uri())
            _write_small_png(full_page_png(driver), args.out)
        finally:
            driver.quit()
    print(args.out)


if __name__ == "__main__":
    main()
