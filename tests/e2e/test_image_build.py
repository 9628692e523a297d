"""Images -> Build… in the real window: a folder with a Dockerfile built under a tag, the engine's
output streamed into the dialog, the image in the Images list with Push… offered; a folder
without a Dockerfile is refused with a message that says so."""

import subprocess
import tempfile
import time
from pathlib import Path

from helpers import attr, click, el, nav, text_of, tid, type_into, wait_for


def ready(driver):
    wait_for(driver, lambda d: d.execute_script("return document.body.dataset.ready") == "true", 60, "UI ready")


def test_build_a_folder_streams_output_and_lists_the_image(driver, out_dir, base_image, cleanup):
    ready(driver)
    nav(driver, "images")
    with tempfile.TemporaryDirectory(prefix="slipway-e2e-build-") as d:
        folder = Path(d)
        (folder / "greeting.txt").write_text("built by slipway\n")
        (folder / "Dockerfile").write_text(
            f"FROM {base_image}\nCOPY greeting.txt /greeting.txt\nRUN echo step-output-$((6 * 7))\n"
        )
        ref = f"e2e/built:{int(time.time())}"
        cleanup["images"].append(ref)

        click(driver, tid("build-open"))
        type_into(driver, tid("build-dir"), str(folder / "missing"))
        type_into(driver, tid("build-tag"), ref)
        click(driver, tid("build-start"))
        wait_for(driver, lambda d: attr(d, tid("build-result"), "data-state") == "error", 30, "refused")
        assert "Dockerfile" in text_of(driver, tid("build-result"))

        type_into(driver, tid("build-dir"), str(folder))
        click(driver, tid("build-start"))
        wait_for(driver, lambda d: attr(d, tid("build-result"), "data-state") in ("done", "error"), 120, "build ended")
        assert attr(driver, tid("build-result"), "data-state") == "done", text_of(driver, tid("build-result"))
        assert "step-output-42" in text_of(driver, tid("build-output"))
        el(driver, f'[data-testid="image-row"][data-ref="{ref}"]', 30)
        driver.save_screenshot(str(out_dir / "image-build.png"))

    out = subprocess.run(["docker", "run", "--rm", ref, "cat", "/greeting.txt"], capture_output=True, text=True)
    assert out.stdout == "built by slipway\n", out
    click(driver, tid("build-push"))
    wait_for(driver, lambda d: el(d, tid("push-source")).get_attribute("value") == ref, 10, "push source")
