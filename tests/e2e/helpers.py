"""Small waits and clicks for the e2e tests: always wait for a DOM state, never a fixed sleep."""

import time
from pathlib import Path

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys


def tid(testid: str) -> str:
    return f'[data-testid="{testid}"]'


def wait_for(driver, predicate, timeout=30.0, what="condition"):
    """Polls predicate(driver) until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = predicate(driver)
            if v:
                return v
        except Exception as e:  # the DOM may be mid-render; keep polling
            last_exc = e
        time.sleep(0.2)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_exc})")


def el(driver, selector, timeout=30.0):
    """The first element matching a CSS selector once it is displayed."""

    def find(d):
        for e in d.find_elements(By.CSS_SELECTOR, selector):
            if e.is_displayed():
                return e
        return None

    return wait_for(driver, find, timeout, f"visible {selector}")


def click(driver, selector, timeout=30.0):
    """Clicks the element; a list re-rendered between find and click is found again."""
    for attempt in range(5):
        e = el(driver, selector, timeout)
        try:
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", e)
            e.click()
            return e
        except StaleElementReferenceException:
            if attempt == 4:
                raise
            time.sleep(0.2)


def type_into(driver, selector, text, enter=False, timeout=30.0):
    e = el(driver, selector, timeout)
    e.clear()
    # clear() does not always fire `input`; the page's live filters and validation listen to it.
    driver.execute_script("arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", e)
    if text:
        e.send_keys(text)
    if enter:
        e.send_keys(Keys.ENTER)
    return e


def text_of(driver, selector) -> str:
    # Read in the page, so a re-render between find and read cannot make the node stale.
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", selector)


def attr(driver, selector, name):
    return driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;", selector, name
    )


def screenshot(driver, out_dir: Path, name: str) -> Path:
    path = out_dir / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def nav(driver, view: str):
    click(driver, tid(f"nav-{view}"))
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.view") == view, 10, f"view {view}")


def add_profile(driver, name, address, http=False, ca="", user="", password=""):
    nav(driver, "registries")
    click(driver, "#profile-clear")
    type_into(driver, tid("profile-name"), name)
    type_into(driver, tid("profile-address"), address)
    if el(driver, tid("profile-http")).is_selected() != http:
        click(driver, tid("profile-http"))
    type_into(driver, tid("profile-ca"), ca)
    type_into(driver, tid("profile-username"), user)
    type_into(driver, tid("profile-password"), password)
    click(driver, tid("profile-save"))
    wait_for(driver, lambda d: attr(d, tid("profile-msg"), "data-kind") in ("ok", "error"), 30, "save answered")
    return attr(driver, tid("profile-msg"), "data-kind"), text_of(driver, tid("profile-msg"))


def terminal_ready(driver, timeout=60):
    """Waits until the workshop's shell runs and has drawn its first prompt."""
    wait_for(driver, lambda d: attr(d, tid("console-exit"), "data-state") == "running", timeout, "shell running")
    wait_for(driver, lambda d: (text_of(d, tid("console-out")) or "").rstrip().endswith(("#", "$")), timeout, "first prompt")


def terminal_type(driver, text, enter=True):
    """Types into the workshop's terminal as a user does: the terminal has the focus, keys go to it."""
    driver.execute_script("document.querySelector('#console-out .xterm-helper-textarea').focus();")
    ActionChains(driver).send_keys(text + (Keys.ENTER if enter else "")).perform()


def terminal_text(driver) -> str:
    """The terminal's screen as text (the DOM renderer keeps its rows in the page)."""
    return text_of(driver, tid("console-out")) or ""


def log_entries(driver):
    """The workshop log as the page lists it: [(command, exit code as text)]."""
    return driver.execute_script(
        "return [...document.querySelectorAll('[data-testid=\"ws-log-entry\"]')]"
        ".map(e => [e.querySelector('code').textContent, e.getAttribute('data-exit-code')]);"
    )


def terminal_run(driver, command, timeout=60.0):
    """Types `command` and Enter, waits until the workshop log lists it; returns its exit code."""
    before = len(log_entries(driver))
    terminal_type(driver, command)

    def reported(d):
        for typed, code in log_entries(d)[before:]:
            if typed == command:
                return code
        return None

    try:
        return wait_for(driver, reported, timeout, f"`{command}` in the workshop log")
    except TimeoutError as e:
        focus = driver.execute_script("const a = document.activeElement; return (a ? a.tagName + '.' + a.className : 'none') + ' hasFocus=' + document.hasFocus();")
        raise TimeoutError(f"{e}; the log lists {log_entries(driver)}; focus {focus}; the terminal shows:\n{terminal_text(driver)}") from None


def stop_workshop(driver, timeout=30.0):
    """Stop & remove the attached workshop, confirming the loss of its uncommitted changes when
    the page asks about them; waits until no container is attached."""
    click(driver, tid("ws-stop"))

    def settled(d):
        if attr(d, tid("ws-container"), "data-state") == "none":
            return "removed"
        confirm = d.find_elements(By.CSS_SELECTOR, tid("ws-confirm"))
        if confirm and confirm[0].is_displayed():
            return "asked"
        return None

    if wait_for(driver, settled, timeout, "removed or asked") == "asked":
        click(driver, tid("ws-confirm-yes"))
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-state") == "none", timeout, "container removed")
