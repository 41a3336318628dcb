"""The HTML reports as people see them: the eval report of a real eval run and a release
report, opened in a real headless browser (Debian's chromium driven by Playwright, no browser
download): no console errors, every image loaded; screenshots kept as run artifacts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from raygate.canary.actions import Actions
from raygate.canary.controller import Controller
from raygate.canary.policy import RolloutPolicy
from raygate.canary.simulate import Traffic
from raygate.release_report import ReportInputs, render_release_report
from raygate.testing.fakes import (
    FakeClock,
    FakeEvaluator,
    FakeRegistry,
    FakeReleaseStore,
    FakeServing,
    SimulatedProvider,
)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "chromium is missing: run `make test` (it installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def open_page(browser, path: Path, screenshot: Path) -> dict:
    """Load the page; its console errors, images, and a full-page screenshot."""
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.resolve().as_uri())
    images = page.evaluate(
        "Array.from(document.images).map(i => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0}))"
    )
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return {"errors": errors, "images": images}


def simulated_release():
    """A release run to its end on the fakes: v2 slower than v1 at p95, rolled back."""
    registry = FakeRegistry()
    for version in (1, 2):
        registry.register("agent", f"runs:/r{version}/agent", {})
    registry.set_alias("agent", "champion", 1)
    serving = FakeServing(registry, "agent")
    serving.refresh("champion")
    provider = SimulatedProvider(serving, 200, {2: Traffic().regressed("latency_ms", 1.5)})
    store, clock = FakeReleaseStore(), FakeClock()
    policy = RolloutPolicy(
        analysis_interval_s=10,
        steps=[{"weight_percent": 10, "min_duration_s": 30}, {"weight_percent": 50,
               "min_duration_s": 60}],
    )  # fmt: skip
    controller = Controller(policy, provider, Actions(registry, serving, lambda _: None), store,
                            clock=clock, sleep=clock.sleep)  # fmt: skip
    state = controller.run(controller.begin("agent", 2))
    return state, store.looks(state.release_id), controller.totals


def test_the_eval_report_and_the_release_report_render_cleanly_in_a_real_browser(
    browser, local_ray, registry, built_v1, model_name, tiny_gold, tmp_path
):
    import mlflow

    from raygate.evaluation.pipeline import PipelineOptions
    from raygate.evaluation.runner import evaluate

    version = registry.register(model_name, built_v1.model_uri, built_v1.tags)
    result = evaluate(version.uri, tiny_gold, registry, PipelineOptions(workers=1))
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="report.html"
    )
    eval_report = Path(downloaded)
    state, looks, totals = simulated_release()
    assert state.phase == "rolled_back" and totals is not None
    metrics = dict(result.metrics.values)
    fake = FakeEvaluator()
    gates = fake.gate(fake.evaluate("runs:/r2/agent", "smoke"), "agent")
    release_report = tmp_path / "release_report.html"
    release_report.write_text(render_release_report(
        ReportInputs(state, looks, totals, gates.decision, metrics, metrics)))  # fmt: skip
    for name, path in (("eval_report", eval_report), ("release_report", release_report)):
        shot = tmp_path / f"{name}.png"
        seen = open_page(browser, path, shot)
        assert seen["errors"] == [], (name, seen["errors"])
        assert seen["images"] and all(i["ok"] for i in seen["images"]), (name, seen["images"])
        assert shot.stat().st_size > 10_000
        mlflow.MlflowClient().log_artifact(result.run_id, str(shot), "screenshots")
    alts = {i["alt"] for i in open_page(browser, release_report, tmp_path / "again.png")["images"]}
    assert {"Quality by category", "Canary weight over time"} <= alts
    assert any(alt.startswith("latency_ms: anytime-valid") for alt in alts)
    saved = mlflow.MlflowClient().list_artifacts(result.run_id, "screenshots")
    assert {Path(a.path).name for a in saved} == {"eval_report.png", "release_report.png"}
