"""report.html in a real browser (Chromium driven by playwright): every image loads, the summary table is on the
first screen, the evidence is folded, and a screenshot is taken (left in the test's temporary folder).

Skipped, with the reason, where playwright or Chromium is missing. To enable: ``apt-get install chromium`` (Debian's
package; browser downloads from vendors are not needed) and ``pip install playwright``; $ADVLAND_CHROMIUM names
another Chromium binary.
"""
import os
import shutil

import pytest

from advland.claims.report import write_report

from report_samples import environment, results

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
CHROMIUM = os.environ.get("ADVLAND_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium)")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def page():
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport=VIEWPORT)
        finally:
            browser.close()


def test_report_renders_with_every_image_and_the_summary_on_the_first_screen(page, tmp_path):
    data_dir = str(tmp_path / "data")
    paths = write_report(results(data_dir), environment("smoke", data_dir), tmp_path / "report")
    page.goto(f"file://{paths['html']}", wait_until="load")
    page.screenshot(path=str(tmp_path / "report.png"))
    images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
    assert len(images) == len(paths["plots"]) > 0
    assert all(complete and width > 0 for complete, width in images), images
    box = page.eval_on_selector("#summary", "t => { const r = t.getBoundingClientRect(); return [r.top, r.bottom] }")
    assert 0 <= box[0] and box[1] <= VIEWPORT["height"], box  # the whole table without scrolling
    assert page.is_visible("text=refuted as written")
    folded = page.eval_on_selector_all("section details", "ds => ds.map(d => d.open)")
    assert folded and not any(folded)
    assert not page.is_visible("ol.checks")  # the check-by-check evidence is one click away
    page.click("#t\\.literal1 > details > summary")
    assert page.is_visible("#t\\.literal1 ol.checks")
    assert (tmp_path / "report.png").stat().st_size > 0
