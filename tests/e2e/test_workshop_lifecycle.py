"""The workshop's lifecycle in the real window: Stop & remove asks first when the container has
uncommitted changes (saying how many) and Cancel keeps it; Start asks before opening a second
workshop beside the attached one; the page says closing the app leaves workshops running; and a
window opened again on the same data finds the running workshop and shows its log. Leaves the
screenshot README shows."""

import subprocess
from pathlib import Path

from conftest import App
from helpers import (
    attr, click, el, log_entries, nav, stop_workshop, terminal_ready, terminal_run, text_of, tid,
    wait_for,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def shown(driver, testid) -> bool:
    found = driver.find_elements(By.CSS_SELECTOR, tid(testid))
    return bool(found) and found[0].is_displayed()


def start(driver, image):
    wait_for(driver, lambda d: image in [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, f'{tid("ws-image")} option')], 30, "image in picker")
    Select(driver.find_element(By.CSS_SELECTOR, tid("ws-image"))).select_by_value(image)
    click(driver, tid("ws-start"))


def running(container) -> bool:
    out = subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", container], capture_output=True, text=True)
    return out.stdout.strip() == "true"


def test_remove_asks_with_the_count_and_start_asks_before_another(driver, out_dir, base_image, cleanup, app_bin, app_home):
    ready(driver)
    nav(driver, "workshop")
    assert "leaves workshop containers running" in text_of(driver, tid("ws-leaves-running"))
    start(driver, base_image)
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-state") == "running", 60, "container running")
    first = attr(driver, tid("ws-container"), "data-container")
    cleanup["containers"].append(first)
    terminal_ready(driver)
    assert terminal_run(driver, "mkdir -p /lifecycle/kept && echo kept > /lifecycle/kept/a.txt") == "0"

    # Stop & remove asks, with the count the engine reports, and Cancel keeps the container.
    count = len(subprocess.run(["docker", "diff", first], capture_output=True, text=True, check=True).stdout.splitlines())
    assert count >= 3
    click(driver, tid("ws-stop"))
    el(driver, tid("ws-confirm"))
    assert attr(driver, tid("ws-confirm"), "data-topic") == "remove"
    question = text_of(driver, tid("ws-confirm-text"))
    assert f"{count} uncommitted changes" in question, question
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out_dir / "workshop-remove-confirm.png"))
    driver.save_screenshot(str(SCREENSHOTS / "workshop-remove-confirm.png"))
    click(driver, tid("ws-confirm-no"))
    wait_for(driver, lambda d: not shown(d, "ws-confirm"), 10, "question gone")
    assert attr(driver, tid("ws-container"), "data-state") == "running"
    assert attr(driver, tid("ws-container"), "data-container") == first
    assert running(first)

    # Start while attached asks; keeping the current one changes nothing.
    click(driver, tid("ws-start"))
    el(driver, tid("ws-confirm"))
    assert attr(driver, tid("ws-confirm"), "data-topic") == "start"
    click(driver, tid("ws-confirm-no"))
    wait_for(driver, lambda d: not shown(d, "ws-confirm"), 10, "question gone")
    assert attr(driver, tid("ws-container"), "data-container") == first

    # Another beside it: the first keeps running and the picker offers both.
    click(driver, tid("ws-start"))
    click(driver, tid("ws-confirm-yes"))
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-state") == "running" and attr(d, tid("ws-container"), "data-container") not in (None, first), 60, "second container")
    second = attr(driver, tid("ws-container"), "data-container")
    cleanup["containers"].append(second)
    assert running(first)
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, tid("ws-pick-row"))) == 2, 30, "both in the picker")
    click(driver, f'[data-testid="ws-pick-row"][data-container="{first}"] [data-testid="ws-pick-attach"]')
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-container") == first, 30, "first attached again")
    wait_for(driver, lambda d: any(c.startswith("mkdir -p /lifecycle") for c, _ in log_entries(d)), 30, "its log")

    # The second one has no changes worth asking about: it goes at once.
    click(driver, f'[data-testid="ws-pick-row"][data-container="{second}"] [data-testid="ws-pick-attach"]')
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-container") == second, 30, "second attached")
    terminal_ready(driver)
    stop_workshop(driver)
    assert not running(second)

    # A window opened again on the same data finds the running workshop, with its log.
    reopened = App(app_bin, app_home, out_dir, "tauri-driver-reopened", {})
    try:
        reopened.start()
        again = reopened.drv
        ready(again)
        nav(again, "workshop")
        wait_for(again, lambda d: attr(d, tid("ws-container"), "data-container") == first, 60, "reattached")
        wait_for(again, lambda d: any(c.startswith("mkdir -p /lifecycle") for c, _ in log_entries(d)), 30, "the recorded history")
        terminal_ready(again)
        again.save_screenshot(str(out_dir / "workshop-reattached.png"))
    finally:
        reopened.stop()

    # Confirming removes it, with its changes.
    nav(driver, "workshop")
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-state") in ("running", "none"), 10, "state")
    if attr(driver, tid("ws-container"), "data-container") != first:
        click(driver, f'[data-testid="ws-pick-row"][data-container="{first}"] [data-testid="ws-pick-attach"]')
    stop_workshop(driver)
    assert not running(first)
