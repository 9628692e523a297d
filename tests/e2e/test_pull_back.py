"""The way back from a registry the engine itself refuses (TLS from a private CA and a password
the engine was never given): push, browse, Pull into engine, run; Images -> Pull of the same
reference goes through the profile too. And the browser's calm state for a registry that does not
answer, with the last registry remembered."""

import subprocess
import time
from pathlib import Path

from conftest import Registry, free_port
from helpers import add_profile, attr, click, el, nav, tid, text_of, type_into, wait_for
from selenium.webdriver.support.ui import Select

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def value_of(driver, selector):
    """An input's current value (a property: the page sets it, not the HTML attribute)."""
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.value : null;", selector)


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def test_push_browse_pull_into_engine_and_run_on_a_registry_the_engine_refuses(
    driver, base_image, secure_registry, cleanup
):
    ready(driver)
    kind, msg = add_profile(driver, "way-back", secure_registry.addr, ca=str(secure_registry.ca_file),
                            user=Registry.USER, password=Registry.PASSWORD)
    assert kind == "ok", msg
    repo = f"back/app{int(time.time())}"
    ref = f"{secure_registry.addr}/{repo}:1"
    name = f"slipway-e2e-back-{int(time.time())}"
    subprocess.run(["docker", "run", "--name", name, base_image, "sh", "-c", "echo came-back > /back.txt"],
                   check=True, capture_output=True)
    cleanup["containers"].append(name)
    subprocess.run(["docker", "commit", "--change", 'CMD ["cat", "/back.txt"]', name, ref], check=True, capture_output=True)
    cleanup["images"].append(ref)

    # Push it through the window.
    nav(driver, "images")
    click(driver, tid("images-refresh"))
    click(driver, f'[data-testid="image-row"][data-ref="{ref}"] [data-testid="image-open"]')
    click(driver, tid("image-push-open"))
    wait_for(driver, lambda d: el(d, tid("push-source")).get_attribute("value") == ref, 10, "push source")
    Select(el(driver, tid("push-profile"))).select_by_value("way-back")
    click(driver, tid("push-start"))
    wait_for(driver, lambda d: attr(d, tid("push-result"), "data-state") in ("done", "error"), 120, "push finished")
    assert attr(driver, tid("push-result"), "data-state") == "done", text_of(driver, tid("push-result"))
    digest = text_of(driver, tid("push-digest")).strip()

    # The engine itself refuses this registry: it was never given the password (nor the CA).
    subprocess.run(["docker", "rmi", ref], check=True, capture_output=True)
    refused = subprocess.run(["docker", "pull", ref], capture_output=True, text=True)
    assert refused.returncode != 0, "the engine pulled from the secure registry by itself; the test proves nothing"

    # Browse to the tag: Pull into engine, and the pull commands by tag and by digest.
    nav(driver, "browser")
    Select(el(driver, tid("browser-profile"))).select_by_value("way-back")
    click(driver, tid("browser-load"))
    click(driver, f'[data-testid="repo-item"][data-repo="{repo}"]')
    click(driver, f'[data-testid="tag-row"][data-tag="1"] [data-testid="tag-details"]')
    wait_for(driver, lambda d: value_of(d, tid("pull-command-digest")), 30, "pull commands")
    assert value_of(driver, tid("pull-command-tag")) == f"docker pull {ref}"
    assert value_of(driver, tid("pull-command-digest")) == f"docker pull {secure_registry.addr}/{repo}@{digest}"
    click(driver, tid("fetch-start"))
    wait_for(driver, lambda d: attr(d, tid("fetch-result"), "data-state") in ("done", "error"), 120, "fetch finished")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "pull-into-engine.png"))
    assert attr(driver, tid("fetch-result"), "data-state") == "done", text_of(driver, tid("fetch-result"))
    # Tauri orders a channel's messages among themselves but not against the command's result,
    # so the last rows may settle just after the result line does.
    def settled_rows(d):
        rows = d.execute_script(
            "return [...document.querySelectorAll('[data-testid=\"fetch-layers\"] [data-testid=\"layer-row\"]')]"
            ".map((r) => r.dataset.digest || '')")
        return rows if rows and all(r.startswith("sha256:") for r in rows) else None

    wait_for(driver, settled_rows, 10, "every layer row on its registry digest")
    out = subprocess.run(["docker", "run", "--rm", ref], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "came-back"

    # Images -> Pull of the same reference goes through the profile, not the engine.
    subprocess.run(["docker", "rmi", ref], check=True, capture_output=True)
    nav(driver, "images")
    type_into(driver, tid("pull-ref"), ref)
    click(driver, tid("pull-start"))
    wait_for(driver, lambda d: attr(d, tid("pull-result"), "data-kind") in ("ok", "error"), 120, "pull finished")
    assert attr(driver, tid("pull-panel"), "data-route") == "fetch"
    assert attr(driver, tid("pull-result"), "data-kind") == "ok", text_of(driver, tid("pull-result"))
    el(driver, f'[data-testid="image-row"][data-ref="{ref}"]', 30)


def test_an_unreachable_registry_is_a_calm_state_and_the_last_registry_is_remembered(driver, registry):
    ready(driver)
    kind, msg = add_profile(driver, "reachable", registry.addr, http=True)
    assert kind == "ok", msg
    kind, msg = add_profile(driver, "gone", f"127.0.0.1:{free_port()}", http=True)
    assert kind == "ok", msg

    nav(driver, "browser")
    Select(el(driver, tid("browser-profile"))).select_by_value("gone")
    wait_for(driver, lambda d: attr(d, tid("browser-error"), "data-state") == "unreachable", 30, "calm state")
    assert "error" not in (attr(driver, tid("browser-error"), "class") or "").split()
    assert text_of(driver, tid("browser-error-text")).strip(), "the probe's explanation is shown"
    assert "Registries" in text_of(driver, tid("browser-error-hint"))
    click(driver, tid("browser-retry"))
    wait_for(driver, lambda d: attr(d, tid("browser-error"), "data-state") == "unreachable", 30, "still calm after Retry")

    # The last registry browsed is where the browser opens next time.
    Select(el(driver, tid("browser-profile"))).select_by_value("reachable")
    wait_for(driver, lambda d: attr(d, tid("browser-error"), "data-state") == "", 30, "reachable loads")
    nav(driver, "engine")
    driver.refresh()
    ready(driver)
    nav(driver, "browser")
    wait_for(driver, lambda d: el(d, tid("browser-profile")).get_attribute("value") == "reachable", 15, "remembered")
    assert attr(driver, tid("browser-error"), "data-state") in ("", None)
