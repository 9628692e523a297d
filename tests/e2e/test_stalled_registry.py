"""A registry that accepts connections and never answers: every registry call the window makes
(Test on the profile form, the browser's catalog) shows Stop, and Stop ends it at once."""

import socket
import threading

from helpers import attr, click, el, nav, screenshot, text_of, tid, type_into, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


def shown(driver, testid) -> bool:
    return any(e.is_displayed() for e in driver.find_elements(By.CSS_SELECTOR, tid(testid)))


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


class StalledRegistry:
    """Accepts TCP connections on 127.0.0.1 and holds them open without a byte of answer."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.addr = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def test_registry_calls_to_a_stalled_registry_can_be_stopped(driver, out_dir):
    stalled = StalledRegistry()
    try:
        ready(driver)
        nav(driver, "registries")
        click(driver, "#profile-clear")
        type_into(driver, tid("profile-name"), "stalled")
        type_into(driver, tid("profile-address"), stalled.addr)
        click(driver, tid("profile-test"))
        el(driver, tid("profile-stop"), 15)
        click(driver, tid("profile-stop"))
        wait_for(driver, lambda d: attr(d, tid("profile-msg"), "data-state") == "error", 10, "test stopped")
        assert "cancelled" in text_of(driver, tid("profile-msg"))
        assert not shown(driver, "profile-stop")

        # Saving without a password does not contact the registry; browsing it does.
        click(driver, tid("profile-save"))
        wait_for(driver, lambda d: attr(d, tid("profile-msg"), "data-kind") == "ok", 15, "saved")
        nav(driver, "browser")
        Select(el(driver, tid("browser-profile"))).select_by_value("stalled")
        el(driver, tid("browser-stop"), 15)
        screenshot(driver, out_dir, "20-stalled-registry")
        click(driver, tid("browser-stop"))
        wait_for(driver, lambda d: attr(d, tid("browser-error"), "data-code") == "cancelled", 10, "catalog stopped")
        assert not shown(driver, "browser-stop")

        nav(driver, "registries")
        click(driver, f'[data-testid="profile-row"][data-name="stalled"] {tid("profile-remove")}')
        wait_for(driver, lambda d: attr(d, '[data-testid="profile-row"][data-name="stalled"]', "data-name") is None, 15, "removed")
    finally:
        stalled.close()
