"""The workshop's recipe and replay in the real window. Dockerfile… shows the workshop as a
Dockerfile (the commands that succeeded as RUN, failed ones left out, the commit form's CMD last),
saves it into a folder without ever replacing a Dockerfile already there, and Build it… builds that
folder through Images -> Build into an image that holds the workshop's file and runs its CMD.
Replay on… runs the successful commands in a new workshop from a picked image, one row per
command with its exit code, and opens that workshop. Leaves the screenshot README shows."""

import subprocess
import tempfile
import time
from pathlib import Path

from helpers import (
    attr, click, el, nav, stop_workshop, terminal_ready, terminal_run, text_of, tid, type_into, wait_for,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def start_workshop(driver, image, cleanup):
    wait_for(driver, lambda d: image in [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, f'{tid("ws-image")} option')], 30, "image in picker")
    Select(driver.find_element(By.CSS_SELECTOR, tid("ws-image"))).select_by_value(image)
    before = attr(driver, tid("ws-container"), "data-container")
    attached = attr(driver, tid("ws-container"), "data-state") == "running"
    click(driver, tid("ws-start"))
    # A workshop left attached by an earlier test is kept; the new one opens beside it.
    if attached:
        wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, tid("ws-confirm")).is_displayed(), 10, "start question")
        click(driver, tid("ws-confirm-yes"))
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-state") == "running" and attr(d, tid("ws-container"), "data-container") not in (None, before), 60, "container running")
    container = attr(driver, tid("ws-container"), "data-container")
    cleanup["containers"].append(container)
    terminal_ready(driver)
    return container


def test_the_recipe_is_saved_built_and_replayed_from_the_window(driver, out_dir, base_image, cleanup):
    ready(driver)
    nav(driver, "workshop")
    workshop = start_workshop(driver, base_image, cleanup)
    assert terminal_run(driver, "mkdir -p /recipe && echo made-in-the-workshop > /recipe/a.txt") == "0"
    assert terminal_run(driver, "ls /recipe-missing") != "0"
    # The recipe ends with the commit form's instructions, kept while the form is closed.
    click(driver, tid("commit-open"))
    type_into(driver, tid("commit-cmd"), "cat /recipe/a.txt")
    click(driver, "#commit-close")

    # The recipe: the successful command as RUN, the failed one left out, the commit form's CMD.
    click(driver, tid("recipe-open"))
    wait_for(driver, lambda d: "RUN mkdir -p /recipe" in (text_of(d, tid("recipe-text")) or ""), 30, "the recipe")
    recipe = text_of(driver, tid("recipe-text"))
    assert f"FROM {base_image}" in recipe, recipe
    assert "ls /recipe-missing" not in recipe, recipe
    assert "Left out: 1 command" in recipe, recipe
    assert recipe.rstrip().endswith("CMD cat /recipe/a.txt"), recipe
    assert "null" not in text_of(driver, tid("changes-table")), "the changes tree shows a stray null"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(out_dir / "workshop-recipe.png"))
    driver.save_screenshot(str(SCREENSHOTS / "workshop-recipe.png"))

    with tempfile.TemporaryDirectory(prefix="slipway-e2e-recipe-") as d:
        folder = Path(d)
        type_into(driver, tid("recipe-dir"), str(folder))
        click(driver, tid("recipe-save"))
        wait_for(driver, lambda d: attr(d, tid("recipe-result"), "data-state") in ("saved", "error"), 30, "saved")
        assert attr(driver, tid("recipe-result"), "data-state") == "saved", text_of(driver, tid("recipe-result"))
        saved = (folder / "Dockerfile").read_text()
        assert saved.strip() == recipe.strip()

        # A second save never replaces the file: the message says so, the file is as it was.
        click(driver, tid("recipe-save"))
        wait_for(driver, lambda d: attr(d, tid("recipe-result"), "data-state") == "error", 30, "refused")
        assert "already exists" in text_of(driver, tid("recipe-result"))
        assert (folder / "Dockerfile").read_text() == saved
        (folder / "Dockerfile").unlink()
        click(driver, tid("recipe-save"))
        wait_for(driver, lambda d: attr(d, tid("recipe-result"), "data-state") == "saved", 30, "saved again")

        # Build it… opens Images -> Build on that folder; the image holds the workshop's file.
        click(driver, tid("recipe-build"))
        wait_for(driver, lambda d: el(d, tid("build-dir")).get_attribute("value") == str(folder), 10, "folder filled in")
        ref = f"e2e/recipe:{int(time.time())}"
        cleanup["images"].append(ref)
        type_into(driver, tid("build-tag"), ref)
        click(driver, tid("build-start"))
        wait_for(driver, lambda d: attr(d, tid("build-result"), "data-state") in ("done", "error"), 120, "build ended")
        assert attr(driver, tid("build-result"), "data-state") == "done", text_of(driver, tid("build-result"))
    out = subprocess.run(["docker", "run", "--rm", ref], capture_output=True, text=True)
    assert out.stdout == "made-in-the-workshop\n", out

    # Replay on the base image: one row, exit 0, and the new workshop opens with the file in it.
    nav(driver, "workshop")
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-container") == workshop, 30, "still attached")
    click(driver, tid("replay-open"))
    Select(driver.find_element(By.CSS_SELECTOR, tid("replay-image"))).select_by_value(base_image)
    click(driver, tid("replay-start"))
    wait_for(driver, lambda d: attr(d, tid("replay-result"), "data-state") in ("done", "failed", "error"), 120, "replay ended")
    assert attr(driver, tid("replay-result"), "data-state") == "done", text_of(driver, tid("replay-result"))
    steps = driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=\"replay-step\"]')]"
        ".map(e => [e.querySelector('code').textContent, e.getAttribute('data-exit-code')]);"
    )
    assert steps == [["mkdir -p /recipe && echo made-in-the-workshop > /recipe/a.txt", "0"]], steps
    driver.save_screenshot(str(out_dir / "workshop-replay.png"))
    click(driver, tid("replay-attach"))
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-container") not in (None, workshop), 30, "the new workshop attached")
    replayed = attr(driver, tid("ws-container"), "data-container")
    cleanup["containers"].append(replayed)
    out = subprocess.run(["docker", "exec", replayed, "cat", "/recipe/a.txt"], capture_output=True, text=True)
    assert out.stdout == "made-in-the-workshop\n", out

    # Leave the window as the next test expects it: no workshop attached, none running.
    stop_workshop(driver)
    click(driver, f'[data-testid="ws-pick-row"][data-container="{workshop}"] [data-testid="ws-pick-attach"]')
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-container") == workshop, 30, "first workshop attached")
    stop_workshop(driver)
