"""What the MLflow UI shows of a sweep: through a real `mlflow server` and a real headless Chromium
(Debian's `chromium` and `chromium-driver`, driven by selenium), and the same facts through
MlflowClient where no browser is installed.

One small sweep (xor, two hidden activations x two seeds) makes the store. The browser test
opens the experiment's Models tab (the best model, linked to the best run) and its runs table
(the parent expanded: each child's Dataset column names the data set and its digest, and the
run names are distinct), and saves a screenshot of each page beside the test's files.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import MlflowServer

from runner.sweep import SweepSummary, run_sweep

CHROMIUM = Path("/usr/bin/chromium")
TABLE = (
    "dataset,hidden,activation,optimizer,learning_rate,momentum,epochs,seed\n"
    "xor,2,sigmoid|tanh,momentum,0.5,0.9,300,0..1\n"
)
#: how long a page may take to show what is looked for (a busy machine, a cold server)
PAGE_SECONDS = 120


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, SweepSummary]:
    """A store holding one finished sweep of :data:`TABLE`: (its URI, the sweep's summary)."""
    folder = tmp_path_factory.mktemp("ui-store")
    table = folder / "xor.csv"
    table.write_text(TABLE)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    summary = run_sweep(table, tracking_uri=uri, jobs=1)
    assert summary.finished == 4 and summary.best is not None
    return uri, summary


def child_runs(uri: str, summary: SweepSummary) -> list:
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(summary.experiment).experiment_id
    query = f"tags.`mlflow.parentRunId` = '{summary.parent_run_id}'"
    return client.search_runs([experiment], filter_string=query)


def test_the_store_holds_what_the_ui_shows(swept: tuple[str, SweepSummary]) -> None:
    """The facts the browser test reads off the pages, through MlflowClient."""
    from mlflow import MlflowClient

    uri, summary = swept
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(summary.experiment).experiment_id
    [model] = client.search_logged_models([experiment])
    assert (model.name, model.source_run_id) == ("best_model", summary.best[0])
    children = child_runs(uri, summary)
    assert len({run.info.run_name for run in children}) == len(children) == 4
    for run in children:
        [data] = run.inputs.dataset_inputs
        assert data.dataset.name == "xor" and len(data.dataset.digest) == 8


def browser_or_skip(folder: Path) -> object:
    """A headless Chromium under chromedriver, or a skip saying what is missing."""
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not CHROMIUM.exists() or not os.access(driver_path, os.X_OK):
        pytest.skip("Debian's chromium and chromium-driver are not installed (/usr/bin/chromium, "
                    "chromedriver): .ci/run installs them where apt-get works")  # fmt: skip
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=folder)}",
        "--window-size=1800,1000",
    ):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=options)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    driver = browser_or_skip(tmp_path)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def server(tmp_path: Path, swept: tuple[str, SweepSummary]) -> Iterator[MlflowServer]:
    """A real `mlflow server` on 127.0.0.1 serving the swept store."""
    folder = tmp_path / "server"
    folder.mkdir()
    started = MlflowServer(folder, None, backend=swept[0])
    try:
        started.start(timeout=180)
        yield started
    finally:
        started.stop()


def grid_rows(driver: object) -> list[dict[str, str]]:
    """The rows of the page's table (ag-grid) as {column id: text}: a row's cells lie in two
    containers (the pinned columns and the others), joined by the row's id."""
    from selenium.webdriver.common.by import By

    rows: dict[str, dict[str, str]] = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "[role=row][row-id]"):
        cells = rows.setdefault(row.get_attribute("row-id"), {})
        for cell in row.find_elements(By.CSS_SELECTOR, "[col-id]"):
            cells[cell.get_attribute("col-id")] = cell.text
    return list(rows.values())


def shows(driver: object, text: str) -> bool:
    from selenium.webdriver.common.by import By

    return text in driver.find_element(By.TAG_NAME, "body").text


@pytest.mark.slow
def test_a_real_browser_shows_the_best_model_the_datasets_and_distinct_names(
    browser: object, server: MlflowServer, swept: tuple[str, SweepSummary], tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    uri, summary = swept
    from mlflow import MlflowClient

    experiment = MlflowClient(uri).get_experiment_by_name(summary.experiment).experiment_id
    best_name = summary.best[1].spec.run_name()
    wait = WebDriverWait(browser, PAGE_SECONDS)

    browser.get(f"{server.uri}/#/experiments/{experiment}/models")
    wait.until(lambda d: shows(d, "best_model") and shows(d, best_name))
    browser.save_screenshot(str(tmp_path / "models.png"))
    rows = [" ".join(cells.values()) for cells in grid_rows(browser)]
    assert any("best_model" in row and best_name in row for row in rows), rows

    browser.get(f"{server.uri}/#/experiments/{experiment}/runs")
    wait.until(lambda d: shows(d, "matching runs"))
    name_cell = '[col-id="attributes.`Run Name`"]'
    expand = f'{name_cell} button[data-component-id*="runnamecellrenderer"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, expand))[0].click()  # the sweep's run
    names = {r.spec.run_name() for _, r in summary.results}
    wait.until(lambda d: all(shows(d, name) for name in names))
    browser.save_screenshot(str(tmp_path / "runs.png"))

    def run_name(cells: dict[str, str]) -> str:  # the cell shows the run's colour, then its name
        return (cells.get("attributes.`Run Name`") or "-").splitlines()[-1]

    shown = [cells for cells in grid_rows(browser) if run_name(cells) in names]
    assert sorted(map(run_name, shown)) == sorted(names)  # every child run, each name once
    digests = {r.dataset["digest"] for _, r in summary.results}
    for cells in shown:
        dataset = cells.get("attributes.`Dataset`", "")
        assert "xor" in dataset and any(d in dataset for d in digests), cells
