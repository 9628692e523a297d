// Workshop: start a container from an image, work in it in a real terminal (views/terminal.js),
// see what changed, and commit the result with validated names and config changes; its recipe
// (views/recipe.js) and its replay on another image (views/replay.js) hang off the same page.
import * as api from '../api.js';
import * as terminal from './terminal.js';
import * as changesView from './changes.js';
import * as hygiene from './hygiene.js';
import * as recipe from './recipe.js';
import * as replay from './replay.js';
import { imageNames } from './images.js';
import { $, h, reveal, showError, setMessage } from '../util.js';

let nav;
let container = null;
/** What the header says about the attached container, kept for the questions that name it. */
let containerLabel = '';
/** The first visit to the view after the app opened looks for workshops left running. */
let reattachDone = false;
/** Answers the question the confirm box is asking, if any (see `ask`). */
let answer = null;
let committedRef = null;
/** Refreshing changes and the log after a burst of commands once, not once per command. */
let refreshTimer = 0;

export function init({ navigate }) {
  nav = navigate;
  $('ws-start').addEventListener('click', startContainer);
  $('ws-stop').addEventListener('click', stopContainer);
  $('ws-confirm-yes').addEventListener('click', () => answer && answer(true));
  $('ws-confirm-no').addEventListener('click', () => answer && answer(false));
  $('terminal-new').addEventListener('click', () => container && openShell());
  $('changes-refresh').addEventListener('click', refreshChanges);
  changesView.init();
  $('commit-open').addEventListener('click', () => {
    reveal($('commit-dialog'), true);
    reveal($('commit-push'), false);
    setMessage($('commit-result'), '');
    previewLog();
    $('commit-dialog').scrollIntoView();
  });
  $('commit-log').addEventListener('change', previewLog);
  $('commit-close').addEventListener('click', () => reveal($('commit-dialog'), false));
  $('commit-repo').addEventListener('input', validate);
  $('commit-tag').addEventListener('input', validate);
  $('commit-do').addEventListener('click', commit);
  // ENV values the commit would store are checked for tokens as they are typed.
  $('commit-env').addEventListener('change', () => hygiene.check(container, envLines()));
  $('commit-push').addEventListener('click', () => nav('images', { push: committedRef }));
  recipe.init({
    container: () => container,
    changes: commitChanges,
    onBuild: (dir) => nav('images', { build: dir }),
  });
  replay.init({
    container: () => container,
    images: () => [...$('ws-image').options].map((o) => o.value),
    onOpen: (c) => c.id !== container && switchTo(c),
  });
}

/** Makes `c` (a ContainerDto) the workshop's container and opens a shell in it. */
function attach(c) {
  container = c.id;
  containerLabel = `${(c.name || c.short_id).replace(/^\//, '')} from ${c.image}`;
  $('ws-container').textContent = `container ${containerLabel}`;
  $('ws-container').dataset.state = 'running';
  $('ws-container').dataset.container = container;
  showError($('ws-error'), null);
  openShell();
}

/** A new shell in the attached container, in place of the one before. */
function openShell() {
  terminal.open($('console-out'), container, {
    onRecorded: () => {
      clearTimeout(refreshTimer);
      refreshTimer = window.setTimeout(() => {
        refreshChanges();
        if (recipe.isOpen()) recipe.refresh(container, commitChanges());
      }, 300);
    },
    onState: (state, text, code) => {
      const line = $('console-exit');
      line.textContent = text;
      line.dataset.state = state;
      if (code !== undefined && code !== null) line.dataset.exitCode = code;
      else delete line.dataset.exitCode;
    },
  }).catch((e) => showError($('ws-error'), e));
}

export async function show(params = {}) {
  if (params.container && params.container.id !== container) {
    switchTo(params.container);
  }
  // The containers outlive the window: after a restart the newest running workshop is attached
  // again, with its log, and the others are offered in the picker.
  const first = !reattachDone;
  reattachDone = true;
  refreshPicker(first && !container);
  const sel = $('ws-image');
  try {
    const list = await api.listImages();
    const names = list.flatMap((img) => imageNames(img));
    const keep = params.image || sel.value;
    sel.replaceChildren(...names.map((n) => h('option', { value: n }, n)));
    if (keep && names.includes(keep)) sel.value = keep;
    showError($('ws-error'), null);
  } catch (e) {
    showError($('ws-error'), e);
  }
}

/**
 * Asks `text` in the workshop's confirm box and resolves true when the user picks `yes`. The box
 * is part of the page rather than `window.confirm`, so it can say which button does what and a
 * test can read it; a second question answers the first with no.
 */
function ask(topic, text, yes, no, danger = false) {
  if (answer) answer(false);
  const box = $('ws-confirm');
  box.dataset.topic = topic;
  $('ws-confirm-text').textContent = text;
  $('ws-confirm-yes').textContent = yes;
  $('ws-confirm-yes').className = danger ? 'danger' : 'primary';
  $('ws-confirm-no').textContent = no;
  reveal(box, true);
  return new Promise((resolve) => {
    answer = (v) => {
      answer = null;
      reveal(box, false);
      resolve(v);
    };
  });
}

/** Lists the running workshops to pick from; `attachNewest` attaches the newest when none is. */
async function refreshPicker(attachNewest = false) {
  try {
    const running = await api.runningWorkshops();
    if (attachNewest && !container && running.length) switchTo(running[0]);
    // Shown when there is a choice, and after a removal left others running to go back to.
    reveal($('ws-pick'), running.length > 1 || (running.length > 0 && !container));
    $('ws-pick-list').replaceChildren(
      ...running.map((c) =>
        h('li', { 'data-testid': 'ws-pick-row', 'data-container': c.id },
          h('button', {
            'data-testid': 'ws-pick-attach',
            onclick: () => c.id !== container && switchTo(c),
          }, c.id === container ? 'Attached' : 'Attach'),
          ' ',
          h('code', {}, (c.name || c.short_id).replace(/^\//, '')),
          ` from ${c.image}, ${c.status}`)),
    );
  } catch (e) {
    showError($('ws-error'), e);
  }
}

/** Attaches another running workshop: its own terminal, changes and log replace the shown ones. */
function switchTo(c) {
  terminal.close();
  $('changes-body').replaceChildren();
  $('ws-log').replaceChildren();
  attach(c);
  refreshChanges();
  refreshPicker();
}

async function startContainer() {
  const image = $('ws-image').value;
  if (!image) return;
  // Starting never replaces the attached workshop silently: its container and its work stay, and
  // the user says whether to open a second one beside it.
  if (container) {
    const beside = await ask(
      'start',
      `The workshop ${containerLabel} is attached. Start another from ${image} beside it? The ` +
        'current one keeps running and stays in the list of running workshops.',
      'Start another beside it',
      'Keep the current one',
    );
    if (!beside) return;
  }
  $('ws-container').textContent = `starting ${image}…`;
  // Until the new container answers, nothing here names the old one as running.
  $('ws-container').dataset.state = 'starting';
  delete $('ws-container').dataset.container;
  // The shell of the workshop attached so far ends now, not when the new one is ready, so
  // nothing typed meanwhile lands in the old container.
  terminal.close();
  try {
    changesView.clear();
    hygiene.clear();
    $('ws-log').replaceChildren();
    attach(await api.startWorkshop(image));
    refreshPicker();
  } catch (e) {
    container = null;
    $('ws-container').textContent = 'no container';
    $('ws-container').dataset.state = 'none';
    showError($('ws-error'), e);
  }
}

async function stopContainer() {
  if (!container) return;
  const removing = container;
  // Removing destroys whatever was not committed, so the user is told how much that is first.
  let question = null;
  try {
    const count = (await api.containerChanges(removing)).length;
    if (count > 0) {
      question = `${containerLabel} has ${count} uncommitted ${count === 1 ? 'change' : 'changes'}. ` +
        'Removing the container loses them; commit first to keep them.';
    }
    $('ws-confirm').dataset.count = String(count);
  } catch (e) {
    question = `The changes of ${containerLabel} could not be read (${e.message}). Remove it anyway?`;
  }
  if (question && !(await ask('remove', question, 'Remove with its changes', 'Cancel', true))) return;
  if (container !== removing) return;
  try {
    await terminal.close();
    await api.removeWorkshop(removing);
    // A workshop started while this one was being removed stays attached.
    if (container !== removing) return;
    container = null;
    $('ws-container').textContent = 'no container';
    $('ws-container').dataset.state = 'none';
    refreshPicker();
  } catch (e) {
    showError($('ws-error'), e);
  }
}

async function refreshLog() {
  if (!container) return;
  try {
    const log = await api.workshopLog(container);
    $('ws-log').replaceChildren(
      ...log.entries.map((e) =>
        h('li', {
          'data-testid': 'ws-log-entry',
          'data-exit-code': e.exit_code ?? '',
          title: `${e.started} – ${e.finished}`,
          onclick: () => terminal.typeText(e.command),
        },
        h('span', { class: `exit ${e.exit_code === 0 ? 'ok' : 'error'}` }, e.cancelled ? 'cancelled' : `exit ${e.exit_code ?? '?'}`),
        ' ',
        h('code', {}, e.command))),
    );
  } catch (e) {
    showError($('ws-error'), e);
  }
}

async function refreshChanges() {
  if (!container) return;
  refreshLog();
  try {
    changesView.show(await api.containerChanges(container));
    hygiene.check(container, envLines());
  } catch (e) {
    showError($('ws-error'), e);
  }
}

/** Shows the label the commit would store, exactly as the core would store it, when asked for. */
async function previewLog() {
  const wanted = $('commit-log').checked;
  reveal($('commit-log-box'), wanted);
  if (!wanted || !container) return;
  const box = $('commit-log-preview');
  box.textContent = 'Loading…';
  try {
    box.textContent = JSON.stringify(JSON.parse(await api.workshopLogLabel(container)), null, 2);
  } catch (e) {
    box.textContent = e.message;
  }
}

/** The commit dialog's ENV lines, as the commit sends them. */
function envLines() {
  return list($('commit-env').value);
}

/** Splits "a, b" lists; empty input gives an empty list. */
function list(v) {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

async function validate() {
  const repo = $('commit-repo').value.trim();
  const tag = $('commit-tag').value.trim() || 'latest';
  $('commit-repo-err').textContent = '';
  $('commit-tag-err').textContent = '';
  reveal($('commit-latest-warn'), tag === 'latest');
  if (!repo) return false;
  try {
    // The core checks each field on its own, so each message sits under the field it is about.
    const check = await api.validateReference(repo, tag);
    if (check.repository) $('commit-repo-err').textContent = check.repository.message;
    if (check.tag) $('commit-tag-err').textContent = check.tag.message;
    return !check.repository && !check.tag;
  } catch (e) {
    $('commit-repo-err').textContent = e.message;
    return false;
  }
}

/**
 * The commit form's config changes as Dockerfile-like lines, which the commit and the recipe both
 * send; the core parses and validates them, and its message names the instruction that is wrong.
 */
function commitChanges() {
  const changes = [];
  const add = (instr, v) => v && changes.push(`${instr} ${v}`);
  add('CMD', $('commit-cmd').value.trim());
  add('ENTRYPOINT', $('commit-entrypoint').value.trim());
  for (const e of envLines()) add('ENV', e);
  add('WORKDIR', $('commit-workdir').value.trim());
  add('USER', $('commit-user').value.trim());
  for (const p of list($('commit-expose').value)) add('EXPOSE', p);
  for (const l of list($('commit-labels').value)) add('LABEL', l);
  return changes;
}

async function commit() {
  if (!container) {
    setMessage($('commit-result'), 'Start a container first.', 'error');
    return;
  }
  if (!(await validate())) return;
  const changes = commitChanges();
  const repository = $('commit-repo').value.trim();
  const tag = $('commit-tag').value.trim() || 'latest';
  const request = {
    container,
    reference: `${repository}:${tag}`,
    message: $('commit-message').value || null,
    author: $('commit-author').value || null,
    changes,
    include_log: $('commit-log').checked,
  };
  setMessage($('commit-result'), 'Committing…');
  try {
    const res = await api.commitContainer(request);
    committedRef = res.reference || request.reference;
    $('commit-result').replaceChildren(
      h('span', {}, `Committed ${committedRef} `),
      h('span', { class: 'mono', 'data-testid': 'commit-image-id' }, res.image_id));
    $('commit-result').className = 'ok';
    $('commit-result').dataset.state = 'done';
    reveal($('commit-push'), true);
  } catch (e) {
    setMessage($('commit-result'), e.message, 'error');
  }
}
