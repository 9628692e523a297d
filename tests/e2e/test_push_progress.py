"""Push progress in the window tells the truth: a phase line with the seconds elapsed from the
start, one row per layer from start to end, an overall bar that is full only when the push is,
and finished rows that show the digests the registry holds; on the export route and on the
engine's own push through Slipway's relay alike. A push that exported a whole image the registry
mostly had says so, and offers the engine's own push that makes the next one cost only what
changed."""

import json
import re
import subprocess
import time
from pathlib import Path

from helpers import attr, click, el, nav, tid, type_into, wait_for
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# One poll of everything the push view shows, read in the page in one go.
SAMPLE = """
const rows = [...document.querySelectorAll('#push-layers [data-testid="layer-row"]')];
const bar = document.getElementById('push-overall-bar');
return {
  rows: rows.map((r) => r.dataset.layer),
  digests: rows.map((r) => r.dataset.digest || null),
  words: rows.map((r) => r.querySelector('.layer-status').textContent),
  phase: document.getElementById('push-phase').textContent,
  value: bar.value, max: bar.max,
  state: document.getElementById('push-result').dataset.state || '',
};
"""


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def profile_for(driver, registry, name="e2e-progress"):
    nav(driver, "registries")
    click(driver, "#profile-clear")
    type_into(driver, tid("profile-name"), name)
    type_into(driver, tid("profile-address"), registry.addr)
    if not el(driver, tid("profile-http")).is_selected():
        click(driver, tid("profile-http"))
    click(driver, tid("profile-save"))
    wait_for(driver, lambda d: attr(d, tid("profile-msg"), "data-kind") == "ok", 15, "profile saved")
    return name


def open_push(driver, ref, profile):
    """Opens `ref` under Images, then its push panel with `profile` chosen."""
    nav(driver, "images")
    click(driver, tid("images-refresh"))
    click(driver, f'[data-testid="image-row"][data-ref="{ref}"] [data-testid="image-open"]')
    click(driver, tid("image-push-open"))
    wait_for(driver, lambda d: el(d, tid("push-source")).get_attribute("value") == ref, 10, "push source")
    # The profiles are listed after the panel opens; wait for ours before choosing it.
    option = f'{tid("push-profile")} option[value="{profile}"]'
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, option), 10, "the profile in the push panel")
    Select(el(driver, tid("push-profile"))).select_by_value(profile)


def image_with_a_big_layer(base_image, ref, cleanup):
    """The base plus 300 MB that do not compress: enough work to watch (150 MB was sometimes over
    between two samples on a busy machine), and too much new data for
    the engine's own single-core push, so the export route runs. Written in 1 MiB blocks (dd):
    busybox's head writes 4 KiB at a time, which a fuse-overlayfs store takes many times slower."""
    name = f"slipway-e2e-progress-{int(time.time())}"
    subprocess.run(
        ["docker", "run", "--name", name, base_image, "sh", "-c", "dd if=/dev/urandom of=/big.bin bs=1M count=286 2>/dev/null"],
        check=True,
        capture_output=True,
    )
    cleanup["containers"].append(name)
    subprocess.run(["docker", "commit", name, ref], check=True, capture_output=True)
    cleanup["images"].append(ref)
    out = subprocess.run(["docker", "image", "inspect", ref], check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]["RootFS"]["Layers"]


def test_push_progress_shows_phase_rows_and_registry_digests(driver, base_image, registry, cleanup):
    ready(driver)
    profile = profile_for(driver, registry)
    repo = f"e2e/progress{int(time.time())}"
    ref = f"{registry.addr}/{repo}:1"
    diff_ids = image_with_a_big_layer(base_image, ref, cleanup)

    open_push(driver, ref, profile)
    started = time.monotonic()
    click(driver, tid("push-start"))
    # Keep the phase line, the bars and the rows in the window for the screenshot.
    driver.execute_script("document.getElementById('push-phase').scrollIntoView({block: 'start'});")

    samples = []
    shot = None
    while True:
        s = driver.execute_script(SAMPLE)
        s["t"] = time.monotonic() - started
        samples.append(s)
        if s["state"] != "running" and s["t"] > 1:
            break
        if shot is None and s["phase"].startswith("compressing and uploading") and s["value"] > 0:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / "push-progress.png"
            driver.save_screenshot(str(shot))
        assert s["t"] < 180, "push did not finish"
        time.sleep(0.2)
    final = samples[-1]
    assert final["state"] == "done", samples[-3:]

    running = [s for s in samples if s["state"] == "running"]
    # The phase line speaks from the first second, with the seconds counted.
    early = [s for s in running if s["t"] < 2.0]
    assert early and all(s["phase"] for s in early), early
    assert any(re.search(r", \d+ s$", s["phase"]) for s in running), [s["phase"] for s in running]
    # The engine's export is named while nothing moves.
    assert any(s["phase"].startswith("engine exporting the image") for s in running), {s["phase"] for s in running}
    # One row per layer from start to end: never a placeholder row beside them.
    for s in samples:
        assert len(s["rows"]) <= len(diff_ids), s
        assert not any(r.startswith(("layer-", "upload-")) for r in s["rows"]), s
    # The overall bar is never full while the push runs, and full at the end.
    assert all(s["value"] < s["max"] for s in running), [(s["value"], s["max"]) for s in running]
    assert final["value"] == final["max"]
    # Finished rows show the digests the registry holds for the image's layers.
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert sorted(final["digests"]) == sorted(layer["digest"] for layer in manifest["layers"]), final
    assert sorted(final["rows"]) == sorted(diff_ids), final
    assert shot is not None, "no sample caught the upload phase for the screenshot"


def registry_layer_digests(ref):
    """The layer digests of `ref`'s manifest, as skopeo reads them from the registry."""
    manifest = json.loads(
        subprocess.run(
            ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return [layer["digest"] for layer in manifest["layers"]]


def image_the_engine_has_pushed(base_image, registry, cleanup):
    """The base plus 200 MB that do not compress, pushed once by the engine itself (`docker
    push`, to a repository of its own): the image then has a registry digest, so the window's
    push takes the engine's own push through the relay whatever its size, and the engine, which
    compresses anew for a repository that lacks the layers, takes long enough to be sampled."""
    stamp = int(time.time())
    name = f"slipway-e2e-engine-route-{stamp}"
    seed = f"{registry.addr}/e2e/engine-seed{stamp}:1"
    subprocess.run(
        ["docker", "run", "--name", name, base_image, "sh", "-c", "dd if=/dev/urandom of=/big.bin bs=1M count=191 2>/dev/null"],
        check=True,
        capture_output=True,
    )
    cleanup["containers"].append(name)
    subprocess.run(["docker", "commit", name, seed], check=True, capture_output=True)
    cleanup["images"].append(seed)
    subprocess.run(["docker", "push", seed], check=True, capture_output=True)
    ref = f"{registry.addr}/e2e/engine-route{stamp}:1"
    subprocess.run(["docker", "tag", seed, ref], check=True, capture_output=True)
    cleanup["images"].append(ref)
    out = subprocess.run(["docker", "image", "inspect", ref], check=True, capture_output=True, text=True).stdout
    return ref, json.loads(out)[0]["RootFS"]["Layers"]


def test_engine_route_push_keeps_one_row_per_layer_and_ends_on_registry_digests(
    driver, base_image, registry, cleanup
):
    ready(driver)
    profile = profile_for(driver, registry, name="e2e-engine-route")
    ref, diff_ids = image_the_engine_has_pushed(base_image, registry, cleanup)

    open_push(driver, ref, profile)
    started = time.monotonic()
    click(driver, tid("push-start"))
    driver.execute_script("document.getElementById('push-phase').scrollIntoView({block: 'start'});")

    samples = []
    shot = None
    while True:
        s = driver.execute_script(SAMPLE)
        s["t"] = time.monotonic() - started
        samples.append(s)
        if s["state"] != "running" and s["t"] > 1:
            break
        uploading = any(w.startswith("uploading") for w in s["words"])
        if shot is None and s["phase"].startswith("engine pushing") and uploading:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shot = SCREENSHOTS / "push-progress-engine-route.png"
            driver.save_screenshot(str(shot))
        assert s["t"] < 300, "push did not finish"
        time.sleep(0.2)
    final = samples[-1]
    assert final["state"] == "done", samples[-3:]

    running = [s for s in samples if s["state"] == "running"]
    engine_phase = [s for s in running if s["phase"].startswith("engine pushing through Slipway")]
    # The push went the engine's way, and the window said so.
    assert engine_phase, {s["phase"] for s in running}
    # One row per layer, by diff_id, from start to end: every layer's row is there before the
    # engine moves a byte, and never a row beside them (no upload-N, no layer-N).
    for s in samples:
        assert len(s["rows"]) <= len(diff_ids), s
        assert all(r in diff_ids for r in s["rows"]), s
    for s in engine_phase:
        assert sorted(s["rows"]) == sorted(diff_ids), s
    # The engine's bytes move on the big layer's own row while it pushes.
    big = diff_ids[-1]
    moving = [
        w
        for s in engine_phase
        for r, w in zip(s["rows"], s["words"])
        if r == big and w.startswith("uploading")
    ]
    assert moving, [(s["rows"], s["words"]) for s in engine_phase]
    # The overall bar counts what moved: never full while the push runs, full at the end.
    assert all(s["value"] < s["max"] for s in running), [(s["value"], s["max"]) for s in running]
    assert any(0 < s["value"] for s in engine_phase), [(s["value"], s["max"]) for s in engine_phase]
    assert final["value"] == final["max"]
    # The finished rows show the digests the registry holds, each on its own layer's row.
    digests = registry_layer_digests(ref)
    assert dict(zip(final["rows"], final["digests"])) == dict(zip(diff_ids, digests)), final
    assert shot is not None, "no sample caught the engine's upload for the screenshot"


def commit_on(base, ref, cleanup, mib):
    """`base` plus `mib` MiB that do not compress, committed as `ref`."""
    name = f"slipway-e2e-commit-{time.monotonic_ns()}"
    subprocess.run(
        ["docker", "run", "--name", name, base, "sh", "-c", f"dd if=/dev/urandom of=/{name}.bin bs=1M count={mib} 2>/dev/null"],
        check=True,
        capture_output=True,
    )
    cleanup["containers"].append(name)
    subprocess.run(["docker", "commit", name, ref], check=True, capture_output=True)
    cleanup["images"].append(ref)


def push_in_window(driver, ref, profile):
    """Pushes `ref` to `profile` with the target the window offers; returns once the push has
    ended."""
    open_push(driver, ref, profile)
    click(driver, tid("push-start"))
    wait_push_ended(driver)


def wait_push_ended(driver):
    wait_for(driver, lambda d: attr(d, tid("push-result"), "data-state") in ("done", "error"), 120, "the push to end")
    assert attr(driver, tid("push-result"), "data-state") == "done", el(driver, tid("push-result")).text


def test_a_commit_on_an_exported_image_offers_the_engines_own_push(driver, base_image, registry, cleanup):
    """On the system engine (Docker 20.10, classic store): an image pushed through the export,
    then a commit on it. The engine never pushed the base, so the commit's push exports the whole
    image again; the window says so and offers one push through the engine, after which the next
    commit goes through the engine and the offer is gone."""
    ready(driver)
    profile = profile_for(driver, registry, name="e2e-exported-whole")
    stamp = int(time.time())
    first, second, third = (f"{registry.addr}/e2e/exported{stamp}:{n}" for n in (1, 2, 3))
    # More than an engine that knows the base would compress as fast as the export (64 MiB), so
    # `auto` takes the export even where the engine pushed the base image in another test.
    commit_on(base_image, first, cleanup, 70)
    push_in_window(driver, first, profile)

    commit_on(first, second, cleanup, 1)
    push_in_window(driver, second, profile)
    offer = el(driver, tid("push-exported-whole"))
    said = offer.text
    assert "yet the engine exported all of it" in said, said
    assert "Push once through the engine" in said, said
    driver.execute_script("arguments[0].scrollIntoView({block: 'end'});", offer)
    time.sleep(0.3)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "push-exported-whole.png"))

    click(driver, tid("push-through-engine"))
    wait_push_ended(driver)
    assert not driver.find_elements(By.CSS_SELECTOR, tid("push-exported-whole")), el(driver, tid("push-result")).text
    assert second.split("/", 1)[1] in el(driver, tid("push-result")).text

    commit_on(second, third, cleanup, 1)
    push_in_window(driver, third, profile)
    assert not driver.find_elements(By.CSS_SELECTOR, tid("push-exported-whole")), el(driver, tid("push-result")).text
    # The registry holds the engine's image: on a classic store its id is the config digest.
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{third}"], check=True, capture_output=True, text=True
    ).stdout
    image_id = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", third], check=True, capture_output=True, text=True)
    assert json.loads(raw)["config"]["digest"] == image_id.stdout.strip()
