"""End to end in the real window: Xvfb + tauri-driver + WebKitWebDriver."""

from helpers import attr, el, nav, screenshot, tid, wait_for


def test_window_opens_and_shows_engine_status(driver, out_dir):
    # The first paint can take 10+ s on a loaded machine: wait for the page to say it is ready.
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")
    # The window is shared by the session's tests: show the Engine view whatever ran before.
    nav(driver, "engine")
    state = wait_for(
        driver,
        lambda d: (s := attr(d, tid("engine-status"), "data-state")) in ("ok", "error") and s,
        60,
        "engine status",
    )
    screenshot(driver, out_dir, "01-engine")
    assert state == "ok", el(driver, tid("engine-status")).text
    assert "Docker" in el(driver, tid("engine-name")).text


def test_the_page_may_call_only_slipways_commands(driver):
    """The capability grants Slipway's own commands only: Tauri's built-in window commands are refused."""
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "window.__TAURI__.core.invoke('plugin:window|set_title', {label: 'main', value: 'pwned'})"
        ".then(() => done('allowed'), (e) => done('refused: ' + e));"
    )
    assert result.startswith("refused") and "not allowed" in result, result
    assert driver.title == "Slipway"
