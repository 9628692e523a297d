// Workshop -> Dockerfile…: the workshop written down as a Dockerfile (the core's recipe: FROM the
// base, every command that succeeded as RUN, the commit form's CMD/ENV/… last), saved into a
// folder and built from there by Images -> Build….
import * as api from '../api.js';
import { describe } from '../hints.js';
import { $, reveal, setMessage } from '../util.js';

/** The folder the recipe was last saved in, for "Build it…". */
let savedDir = null;

/**
 * @param {{ container: () => string | null, changes: () => string[], onBuild: (dir: string) => void }} hooks
 *   `container`: the attached workshop; `changes`: the commit form's instructions;
 *   `onBuild`: opens the Build dialog on a folder.
 */
export function init({ container, changes, onBuild }) {
  $('recipe-open').addEventListener('click', () => {
    reveal($('recipe-dialog'), true);
    refresh(container(), changes());
    $('recipe-dialog').scrollIntoView();
  });
  $('recipe-close').addEventListener('click', () => reveal($('recipe-dialog'), false));
  $('recipe-refresh').addEventListener('click', () => refresh(container(), changes()));
  $('recipe-save').addEventListener('click', save);
  $('recipe-build').addEventListener('click', () => savedDir && onBuild(savedDir));
}

/** Whether the dialog is open, so the workshop can refresh it after each recorded command. */
export function isOpen() {
  return !$('recipe-dialog').classList.contains('hidden');
}

/** Shows the recipe of `container` with `changes` as its last instructions. */
export async function refresh(container, changes) {
  const text = $('recipe-text');
  const result = $('recipe-result');
  setMessage(result, '');
  if (!container) {
    text.textContent = '';
    setMessage(result, 'Start a workshop first: the recipe is written from its commands.', 'error');
    return;
  }
  try {
    text.textContent = await api.workshopDockerfile(container, changes);
    text.dataset.state = 'done';
  } catch (e) {
    // A change the commit would refuse is named by the core; the recipe waits for it to be fixed.
    text.textContent = '';
    text.dataset.state = 'error';
    setMessage(result, describe(e), 'error');
  }
}

async function save() {
  const dir = $('recipe-dir').value.trim();
  const result = $('recipe-result');
  reveal($('recipe-build'), false);
  if (!dir) {
    setMessage(result, 'Name the folder to save the Dockerfile in.', 'error');
    return;
  }
  try {
    const path = await api.saveDockerfile(dir, $('recipe-text').textContent ?? '');
    savedDir = dir;
    setMessage(result, `Saved ${path}`, 'ok');
    result.dataset.state = 'saved';
    reveal($('recipe-build'), true);
  } catch (e) {
    setMessage(result, describe(e), 'error');
    result.dataset.state = 'error';
  }
}
