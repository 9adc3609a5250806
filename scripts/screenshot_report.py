"""Screenshot of a report.html in headless Chromium (docs/report_page.png is taken this way).

    python scripts/screenshot_report.py OUT/report.html docs/report_page.png
"""
from __future__ import annotations

import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def main(page: str, png: str) -> int:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1500"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        driver.get(Path(page).resolve().as_uri())
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.threshold"))
        driver.save_screenshot(png)
    finally:
        driver.quit()
    print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
