"""Registry housekeeping by clicking in the real window, against the managed registry: sort the
tags, select two, see the plan with the bytes it frees, delete, run garbage collection and see the
bytes freed on disk; the "use from another machine" snippets of a profile."""

import json
import subprocess
import time

from conftest import skopeo_digest
from helpers import attr, click, el, nav, screenshot, text_of, tid, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def tag_order(driver):
    return [e.get_attribute("data-tag") for e in driver.find_elements(By.CSS_SELECTOR, tid("tag-row"))]


def docker_push(image, target, cleanup):
    subprocess.run(["docker", "tag", image, target], check=True, capture_output=True)
    subprocess.run(["docker", "push", "-q", target], check=True, capture_output=True)
    cleanup["images"].append(target)


def test_sort_select_two_tags_delete_and_get_the_bytes_back(driver, out_dir, base_image, cleanup):
    ready(driver)
    nav(driver, "engine")
    wait_for(driver, lambda d: attr(d, tid("local-registry-state"), "data-state") in ("stopped", "running"), 30, "local registry state")
    if attr(driver, tid("local-registry-state"), "data-state") == "stopped":
        click(driver, tid("local-registry-start"))
    wait_for(driver, lambda d: attr(d, tid("local-registry-state"), "data-state") == "running", 30, "running")
    nav(driver, "registries")
    address = el(driver, '[data-testid="profile-row"][data-name="local"] td.mono').text.strip()

    # Three tags on the base image; 2.0 is an image of its own (the base plus 300 kB).
    repo = f"e2e/house{int(time.time())}"
    for tag in ("1.9", "1.10", "latest"):
        docker_push(base_image, f"{address}/{repo}:{tag}", cleanup)
    name = f"e2e-house-{int(time.time())}"
    subprocess.run(["docker", "run", "--name", name, base_image, "/bin/sh", "-c", "head -c 300000 /dev/urandom > /blob"], check=True, capture_output=True)
    derived = f"slipway-e2e/house:{int(time.time())}"
    subprocess.run(["docker", "commit", name, derived], check=True, capture_output=True)
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    cleanup["images"].append(derived)
    docker_push(derived, f"{address}/{repo}:2.0", cleanup)
    kept_digest = skopeo_digest(f"{address}/{repo}:1.10")

    nav(driver, "browser")
    Select(el(driver, tid("browser-profile"))).select_by_value("local")
    click(driver, tid("browser-load"))
    click(driver, f'[data-testid="repo-item"][data-repo="{repo}"]')
    # Newest first by default: 2.0 was committed after the base image.
    wait_for(driver, lambda d: len(tag_order(d)) == 4 and tag_order(d)[0] == "2.0", 30, "tags by date")
    Select(el(driver, tid("tag-sort"))).select_by_value("version")
    wait_for(driver, lambda d: tag_order(d) == ["1.9", "1.10", "2.0", "latest"], 30, "tags by version")
    Select(el(driver, tid("tag-sort"))).select_by_value("name")
    wait_for(driver, lambda d: tag_order(d) == ["1.10", "1.9", "2.0", "latest"], 30, "tags by name")

    # The ledger: 1.9 shares everything with 1.10 and latest; 2.0 alone holds its own layer.
    click(driver, tid("tags-usage"))
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, tid("usage-row"))) == 4, 30, "the ledger")
    assert attr(driver, '[data-testid="usage-row"][data-tag="1.9"]', "data-frees") == "0"
    alone = int(attr(driver, '[data-testid="usage-row"][data-tag="2.0"]', "data-frees"))
    # The ledger says how many of the registry's repositories it counted: all of them here.
    coverage = el(driver, '[data-testid="usage"] [data-testid="coverage"]')
    assert coverage.get_attribute("data-counted") == coverage.get_attribute("data-listed"), coverage.text
    assert coverage.text.startswith("Counted all "), coverage.text

    # Select two tags: 1.9 (shares its digest with 1.10 and latest) and 2.0 (an image alone).
    for tag in ("1.9", "2.0"):
        click(driver, f'[data-testid="tag-row"][data-tag="{tag}"] [data-testid="tag-select"]')
    click(driver, tid("tags-delete-selected"))
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, tid("plan-item"))) == 2, 30, "the plan")
    plan = text_of(driver, tid("delete-plan"))
    assert "stays, tagged 1.10, latest" in plan, plan
    frees = int(attr(driver, tid("delete-frees"), "data-frees"))
    assert frees == alone > 300_000, (frees, alone)
    assert "garbage collection" in text_of(driver, tid("delete-dialog"))
    assert "at most" not in text_of(driver, tid("delete-frees")), "every repository was counted"
    assert not driver.find_elements(By.CSS_SELECTOR, f'#delete-coverage {tid("coverage")}'), "no footnote when complete"
    screenshot(driver, out_dir, "20-delete-plan")
    click(driver, tid("delete-confirm"))
    wait_for(driver, lambda d: tag_order(d) == ["1.10", "latest"], 30, "the two tags gone, the others kept")
    assert skopeo_digest(f"{address}/{repo}:1.10") == kept_digest
    assert subprocess.run(["skopeo", "inspect", "--tls-verify=false", f"docker://{address}/{repo}:1.9"], capture_output=True).returncode != 0

    # Garbage collection: the dry run lists what goes, the real run frees it on disk. Moving 1.9
    # off its digest left a tombstone manifest of a few hundred bytes, collected as well.
    click(driver, tid("gc-dry"))
    wait_for(driver, lambda d: attr(d, tid("gc-result"), "data-kind") == "dry", 60, "dry run")
    would = int(attr(driver, tid("gc-result"), "data-freed"))
    assert frees <= would < frees + 1000, (frees, would)
    click(driver, tid("gc-run"))
    wait_for(driver, lambda d: attr(d, tid("gc-result"), "data-kind") == "real", 60, "garbage collection")
    freed = int(attr(driver, tid("gc-result"), "data-freed"))
    assert freed == would, text_of(driver, tid("gc-result"))
    assert "Freed" in text_of(driver, tid("gc-result"))
    assert "Collected by " in text_of(driver, tid("gc-result")), "the report names the backend that ran"
    screenshot(driver, out_dir, "21-gc-freed")
    assert skopeo_digest(f"{address}/{repo}:1.10") == kept_digest, "the registry runs again with the kept tags"

    # Delete the manifest with every tag on it: the plan names both tags, and the repository,
    # left without tags, says why instead of showing a blank list.
    click(driver, '[data-testid="tag-row"][data-tag="1.10"] [data-testid="tag-delete-manifest"]')
    wait_for(driver, lambda d: "with tags 1.10, latest" in (text_of(d, tid("delete-plan")) or ""), 30, "the manifest plan")
    click(driver, tid("delete-confirm"))
    wait_for(driver, lambda d: "last tag was deleted" in (text_of(d, tid("repo-empty")) or ""), 30, "empty repository explained")
    screenshot(driver, out_dir, "23-empty-repository")

    # The profile's "use from another machine" panel.
    nav(driver, "registries")
    click(driver, '[data-testid="profile-row"][data-name="local"] [data-testid="profile-elsewhere"]')
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, tid("elsewhere-snippet"))) == 4, 30, "snippets")
    docker = text_of(driver, '[data-testid="elsewhere-snippet"][data-tool="Docker"]')
    assert json.loads(docker[docker.index("{"):docker.rindex("}") + 1])["insecure-registries"] == [address]
    screenshot(driver, out_dir, "22-use-elsewhere")

    nav(driver, "engine")
    click(driver, tid("local-registry-stop"))
    wait_for(driver, lambda d: attr(d, tid("local-registry-state"), "data-state") == "stopped", 30, "stopped")
