"""What the MLflow UI shows of a sweep: through a real `mlflow server` and a real headless Chromium
(Debian's `chromium` and `chromium-driver`, driven by selenium), and the same facts through
MlflowClient where no browser is installed.

One small sweep (xor: two hidden activations with momentum and one plain gd, two seeds each)
makes the store. The browser test opens the experiment's Models tab (the best model, linked to
the best run) and its runs table (the parent expanded: each child's Dataset column names the
data set and its digest, and the run names are distinct); another opens the address a sweep
prints, runner's saved view, in the chart view (every run, by configuration, curves only). Each
saves a screenshot of its pages beside the test's files.
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
    "xor,2,sigmoid,gd,2.0,,300,0..1\n"
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
    assert summary.finished == 6 and summary.best is not None
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
    assert len({run.info.run_name for run in children}) == len(children) == 6
    for run in children:
        [data] = run.inputs.dataset_inputs
        assert data.dataset.name == "xor" and len(data.dataset.digest) == 8


def test_the_store_gives_the_chart_view_curves_colours_and_every_configuration(
    swept: tuple[str, SweepSummary],
) -> None:
    """What the chart view draws: every metric a curve (a single number is a tag), the seeds
    of one configuration in one colour and no two configurations in one, gd at momentum 0
    (a compare plot placed it between the others' momenta), and runner's saved view."""
    import json

    from mlflow import MlflowClient

    uri, summary = swept
    client = MlflowClient(uri)
    colours: dict[str, set[str]] = {}
    for run in child_runs(uri, summary):
        for name in run.data.metrics:
            assert len(client.get_metric_history(run.info.run_id, name)) > 1, name
        assert float(run.data.tags["runner.wall_time"]) > 0
        configuration = run.data.tags["runner.configuration_name"]
        colours.setdefault(configuration, set()).add(run.data.tags["mlflow.runColor"])
        if run.data.params["optimizer"] == "gd":
            assert run.data.params["momentum"] == "0.0"
    assert len(colours) == 3 and all(len(c) == 1 for c in colours.values())
    assert len(set.union(*colours.values())) == 3
    tags = client.get_experiment_by_name(summary.experiment).tags
    view = json.loads(tags["mlflow.sharedViewState.runner"])
    assert view["name"] == "every configuration" and isinstance(view["createdAt"], int)
    state = json.loads(view["state"])
    assert state["runsHiddenMode"] == "SHOW_ALL"
    [key] = state["groupBy"]["groupByKeys"]
    assert key == {"mode": "tag", "groupByData": "runner.configuration_name"}


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


@pytest.mark.slow
def test_a_real_browser_charts_every_configuration_in_runners_view(
    browser: object, server: MlflowServer, swept: tuple[str, SweepSummary], tmp_path: Path
) -> None:
    """The address a sweep prints opens runner's saved view; in the chart view every chart is
    a curve (no lone dots of single numbers), every run is drawn (the UI's default draws the
    first 10), grouped by configuration, each configuration in its own colour."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from runner.tracking import Tracker

    uri, summary = swept
    from mlflow import MlflowClient

    experiment = MlflowClient(uri).get_experiment_by_name(summary.experiment).experiment_id
    page = Tracker.ui_url(experiment, server.uri)
    assert page.endswith("viewStateShareKey=runner")
    wait = WebDriverWait(browser, PAGE_SECONDS)
    browser.get(f"{page}&compareRunsMode=CHART")
    names = {r.spec.run_name() for _, r in summary.results}
    wait.until(lambda d: shows(d, "every configuration") and all(shows(d, n) for n in names))
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) >= 3)
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .trace")) >= 6)
    browser.save_screenshot(str(tmp_path / "charts.png"))
    body = " ".join(browser.find_element(By.TAG_NAME, "body").text.split())
    assert "Group by: runner.configuration_name" in body
    assert "Model metrics (3)" in body  # train_loss, train_accuracy, gradient_norm: curves
    for name in names:  # each chart's legend names every run: all are drawn
        assert all(f"{name} ({curve})" in body for curve in ("train_loss", "gradient_norm"))
    for single in ("wall_time", "hessian_min_eigenvalue", "critical_gradient_norm"):
        assert single not in body
    colours = {
        path.value_of_css_property("stroke")
        for path in browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .trace path.js-line")
    }
    assert len(colours) == 3, colours  # one per configuration, every seed drawn
