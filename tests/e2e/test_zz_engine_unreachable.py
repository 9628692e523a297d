"""When no engine answers, the Engine view shows the core's message with its fix, and Retry
asks again. Runs last (its own window) so the main session's window is not disturbed."""

from helpers import attr, click, el, screenshot, tid, wait_for


def test_unreachable_engine_shows_where_it_looked_and_how_to_fix(driver_without_engine, out_dir):
    d = driver_without_engine
    wait_for(d, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")
    wait_for(d, lambda d: attr(d, tid("engine-status"), "data-state") == "error", 60, "engine error")
    err = el(d, tid("engine-error"))
    assert err.get_attribute("data-code") == "engine_unreachable"
    assert "no-such-docker.sock" in err.text, err.text
    screenshot(d, out_dir, "11-engine-unreachable")
    click(d, tid("engine-retry"))
    wait_for(d, lambda d: attr(d, tid("engine-status"), "data-state") == "error", 60, "still an error after retry")
    assert "unreachable" in el(d, tid("nav-engine-badge")).text
