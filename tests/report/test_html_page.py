"""report.html in headless Chromium: opens offline without console errors, and the slider shows
exactly the Python evaluator's figures at three thresholds."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from seqcore.metrics import Evaluator, GroundTruth
from seqcore.report.html import gallery_item, page_figures, write_html
from seqcore.report.writer import write_report

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser", shutil.which("chromium") or "")
                 if p and Path(p).exists()), None)
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None)
NAMES = {1: "scratch", 2: "dent", 3: "stain"}
PIXEL_MM = 0.05


def _split(rng: np.random.Generator) -> tuple[Evaluator, list]:
    ev = Evaluator(["scratch", "dent"], ["stain"])
    samples = []
    for i in range(12):
        mask = np.zeros((40, 48), np.int64)
        for _ in range(rng.integers(0, 4)):
            r, c = rng.integers(0, 34, 2)
            mask[r : r + rng.integers(2, 7), c : c + rng.integers(2, 7)] = rng.integers(1, 4)
        scores = (rng.random(mask.shape) * 0.6).astype(np.float32)
        scores[mask > 0] += np.float32(0.5) * (mask[mask > 0] < 3) + np.float32(0.2)
        gt = GroundTruth(mask, NAMES)
        ev.add(scores, gt, name=f"im{i}")
        samples.append((f"im{i}", (rng.random(mask.shape) * 255).astype(np.uint8), scores, gt))
    return ev, samples


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    ev, samples = _split(np.random.default_rng(3))
    result = ev.compute(ev.best_threshold())
    out = tmp_path_factory.mktemp("report")
    write_report(result, out)
    gallery = [gallery_item(n, im, m, gt, result, lab, s) for (n, im, m, gt), lab, s
               in zip(samples, ev.image_labels, ev.image_scores, strict=True)]
    path = write_html(out / "report.html", ev, result, {p.stem: p for p in (out / "plots").glob("*.png")},
                      gallery, details={"dataset": "synthetic"}, pixel_size_mm=PIXEL_MM)
    return ev, result, path


def test_page_is_self_contained(page):
    text = page[2].read_text()
    assert "http://" not in text and "https://" not in text and "<link" not in text
    assert text.count("data:image/png;base64,") == 3 and "<table>" in text


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the report extra")
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("no system chromium/chromedriver (apt install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,1800", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    from selenium.webdriver.chrome.service import Service

    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _shown(driver) -> dict[str, float | None]:
    rows = driver.execute_script("return [...document.querySelectorAll('#live tbody tr')]"
                                 ".map(r => [r.dataset.key, r.children[1].dataset.value])")
    return {k: None if v == "null" else float(v) for k, v in rows}


def test_slider_shows_exactly_the_python_figures(page, browser):
    ev, result, path = page
    browser.get(path.as_uri())
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda d: d.execute_script("return document.body.dataset.threshold"))
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert _shown(browser) == page_figures(ev, result.threshold, pixel_size_mm=PIXEL_MM)
    hist = ev.pixel_histogram()
    for target in (0.62, 0.85, 1.2):  # many, some and few pixels called
        k = int((target - hist.lo) / hist.width)
        browser.execute_script(
            "const s = document.getElementById('slider'); s.value = String(arguments[0]);"
            "s.dispatchEvent(new Event('input'));", k)
        t = hist.lo + hist.width * k
        assert float(browser.execute_script("return document.body.dataset.threshold")) == t
        expected = page_figures(ev, t, pixel_size_mm=PIXEL_MM)
        assert 0 < expected["recall"] < 1 or 0 < expected["false_calls_per_good_image"] < 1
        assert _shown(browser) == expected
    tags = browser.execute_script("return [...document.querySelectorAll('.card .tag')].map(e => e.textContent)")
    assert len(tags) == 12 and set(tags) <= {"TP", "FP", "FN", "TN"}
    assert [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")] == []
