"""A registry with TLS from a private CA and a password. The profile keeps the CA file
and username; the password goes to the credential store, never into the profile file."""

import json
import subprocess

from conftest import Registry
from helpers import add_profile, attr, click, el, nav, screenshot, text_of, tid, type_into, wait_for
from selenium.webdriver.support.ui import Select


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def test_tls_and_password_profile_then_add_image_across_registries(
    driver, out_dir, app_home, base_image, registry, secure_registry
):
    ready(driver)
    # The source: the base image in the plain registry, put there with skopeo.
    subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", f"docker-daemon:{base_image}", f"docker://{registry.addr}/src/base:1"],
        capture_output=True, check=True,
    )
    kind, msg = add_profile(driver, "plain-src", registry.addr, http=True)
    assert kind == "ok", msg

    # A wrong password is refused by the registry itself, with the core's message.
    kind, msg = add_profile(driver, "secure", secure_registry.addr, ca=str(secure_registry.ca_file),
                            user=Registry.USER, password="wrong-password")
    assert kind == "error", msg
    assert attr(driver, '[data-testid="profile-row"][data-name="secure"]', "data-name") is None
    kind, msg = add_profile(driver, "secure", secure_registry.addr, ca=str(secure_registry.ca_file),
                            user=Registry.USER, password=Registry.PASSWORD)
    assert kind == "ok", msg

    profiles = (app_home / "config/slipway/registries.json").read_text()
    assert Registry.PASSWORD not in profiles and "ca.crt" in profiles
    docker_config = json.loads((app_home / "docker/config.json").read_text())
    assert secure_registry.addr in docker_config["auths"]

    # Test with the saved profile: TLS and authenticated.
    click(driver, f'[data-testid="profile-row"][data-name="secure"] button')
    click(driver, tid("profile-test"))
    wait_for(driver, lambda d: attr(d, tid("profile-msg"), "data-state") in ("ok", "error"), 30, "probe")
    probe = text_of(driver, tid("profile-msg"))
    screenshot(driver, out_dir, "12-secure-profile")
    assert attr(driver, tid("profile-msg"), "data-state") == "ok", probe
    assert "https" in probe and "true" in probe

    # Add image: copy from the plain registry into the secure one, then browse it there.
    nav(driver, "browser")
    Select(el(driver, tid("browser-profile"))).select_by_value("secure")
    click(driver, tid("copy-open"))
    Select(el(driver, tid("copy-from-profile"))).select_by_value("plain-src")
    type_into(driver, tid("copy-source"), "src/base:1")
    type_into(driver, tid("copy-target"), "team/base:1")
    click(driver, tid("copy-start"))
    wait_for(driver, lambda d: attr(d, tid("copy-result"), "data-kind") in ("ok", "error"), 60, "copy finished")
    screenshot(driver, out_dir, "13-copy")
    assert attr(driver, tid("copy-result"), "data-kind") == "ok", text_of(driver, tid("copy-result"))
    click(driver, '[data-testid="repo-item"][data-repo="team/base"]')
    row = el(driver, '[data-testid="tag-row"][data-tag="1"]', 30)
    assert row.get_attribute("data-digest").startswith("sha256:")
