"""The workshop's terminal in the real window, on a Debian base: a `read` prompt answered, apt-get
without -y answered at its "Do you want to continue?", python3 run interactively, Ctrl-C, and each
command in the workshop log with its exit code. Leaves the screenshot README shows."""

from pathlib import Path

from helpers import (
    attr, click, log_entries, nav, terminal_ready, terminal_run, terminal_text, terminal_type, tid,
    stop_workshop, type_into, wait_for,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def test_a_debian_workshop_answers_prompts_installs_with_apt_and_runs_python(driver, out_dir, debian_image, cleanup):
    ready(driver)
    nav(driver, "workshop")
    wait_for(driver, lambda d: debian_image in [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, f'{tid("ws-image")} option')], 30, "debian image in picker")
    Select(driver.find_element(By.CSS_SELECTOR, tid("ws-image"))).select_by_value(debian_image)
    click(driver, tid("ws-start"))
    wait_for(driver, lambda d: attr(d, tid("ws-container"), "data-state") == "running", 60, "container running")
    cleanup["containers"].append(attr(driver, tid("ws-container"), "data-container"))
    terminal_ready(driver)

    # A TTY with TERM, and a shell whose cd persists.
    assert terminal_run(driver, "tty") == "0"
    wait_for(driver, lambda d: "/dev/pts/" in terminal_text(d), 10, "a pts")
    assert terminal_run(driver, "cd /tmp") == "0"
    assert terminal_run(driver, 'echo "at-$(pwd)-as-$TERM"') == "0"
    wait_for(driver, lambda d: "at-/tmp-as-xterm-256color" in terminal_text(d), 10, "cwd and TERM")

    # A prompt answered by typing.
    read = 'read -p "$(echo Q)uestion? " x; echo "got-$x"'
    terminal_type(driver, read)
    wait_for(driver, lambda d: "Question?" in terminal_text(d), 30, "the read prompt")
    terminal_type(driver, "yes")
    wait_for(driver, lambda d: "got-yes" in terminal_text(d), 30, "the answer")

    # apt-get without -y: its question is answered in the terminal.
    assert terminal_run(driver, "apt-get update", 300) == "0"
    install = "apt-get install python3-minimal"
    terminal_type(driver, install)
    wait_for(driver, lambda d: "Do you want to continue? [Y/n]" in terminal_text(d), 300, "apt's question")
    screenshot_path = SCREENSHOTS / "workshop-terminal.png"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    terminal_type(driver, "Y")
    wait_for(driver, lambda d: [install, "0"] in log_entries(d), 600, "the install in the log")

    # An interactive REPL waits for input instead of exiting at once.
    terminal_type(driver, "python3")
    wait_for(driver, lambda d: ">>>" in terminal_text(d), 60, "python's prompt")
    terminal_type(driver, 'print("py-" + str(6 * 7))')
    wait_for(driver, lambda d: "py-42" in terminal_text(d), 30, "python's answer")
    driver.save_screenshot(str(out_dir / "workshop-terminal.png"))
    driver.save_screenshot(str(screenshot_path))
    terminal_type(driver, "exit()")
    wait_for(driver, lambda d: ["python3", "0"] in log_entries(d), 30, "python3 in the log")

    # A failing command is logged with its code.
    assert terminal_run(driver, "false") == "1"
    commands = [c for c, _ in log_entries(driver)]
    for expected in ("tty", "cd /tmp", read, "apt-get update", install, "python3", "false"):
        assert expected in commands, commands

    # The changes list what apt installed: thousands, so folders start closed; the filter finds it.
    type_into(driver, tid("changes-filter"), "/usr/bin/python3.11")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="change-row"][data-path="/usr/bin/python3.11"]'), 60, "python in the changes")
    type_into(driver, tid("changes-filter"), "")

    # A new shell replaces the old one in the same container; cd was that shell's.
    click(driver, tid("terminal-new"))
    terminal_ready(driver)
    assert terminal_run(driver, 'echo "now-$(pwd)"') == "0"
    wait_for(driver, lambda d: "now-/" in terminal_text(d) and "now-/tmp" not in terminal_text(d), 10, "a fresh shell")

    nav(driver, "workshop")
    stop_workshop(driver)
