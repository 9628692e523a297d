// Images -> Build…: a folder with a Dockerfile built by the engine under a tag, its output
// streamed into the dialog; the new image then sits in the Images list, ready to push.
import * as api from '../api.js';
import { describe } from '../hints.js';
import { followBuild } from '../progress.js';
import { $, appendTail, reveal, setMessage, shortDigest } from '../util.js';

let buildOp = null;
let built = null;

/**
 * @param {{ onBuilt: (ref: string) => void, onPush: (ref: string) => void }} hooks
 */
export function init({ onBuilt, onPush }) {
  $('build-open').addEventListener('click', () => {
    reveal($('build-panel'), true);
    $('build-dir').focus();
  });
  $('build-close').addEventListener('click', () => reveal($('build-panel'), false));
  $('build-start').addEventListener('click', () => build(onBuilt));
  $('build-cancel').addEventListener('click', () => buildOp && api.cancel(buildOp).catch(() => {}));
  $('build-push').addEventListener('click', () => built && onPush(built));
}

/** Opens the dialog on folder `dir` (the Workshop's saved recipe), ready for a tag. */
export function open(dir) {
  reveal($('build-panel'), true);
  $('build-dir').value = dir;
  $('build-tag').focus();
}

/** The name the Images list shows for `tag`: the engine files a tagless name under `latest`. */
function listed(tag) {
  return /:[^/]*$/.test(tag) ? tag : `${tag}:latest`;
}

async function build(onBuilt) {
  if (buildOp) return;
  const dir = $('build-dir').value.trim();
  const tag = $('build-tag').value.trim();
  const result = $('build-result');
  if (!dir || !tag) {
    setMessage(result, 'Name the folder that holds the Dockerfile, and a tag for the image.', 'error');
    result.dataset.state = 'error';
    return;
  }
  const out = $('build-output');
  out.textContent = '';
  reveal($('build-push'), false);
  setMessage(result, `Building ${tag}…`);
  result.dataset.state = 'running';
  buildOp = api.newOpId('build');
  $('build-start').disabled = true;
  try {
    const id = await api.buildImage(dir, tag, buildOp, followBuild((text) => appendTail(out, text)));
    built = listed(tag);
    setMessage(result, `Built ${built} (${shortDigest(id)})`, 'ok');
    result.dataset.state = 'done';
    reveal($('build-push'), true);
    onBuilt(built);
  } catch (e) {
    setMessage(result, describe(e), 'error');
    result.dataset.state = 'error';
  } finally {
    buildOp = null;
    $('build-start').disabled = false;
  }
}
