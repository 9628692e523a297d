// Workshop: start a container from an image, work in it in a real terminal (views/terminal.js),
// see what changed, and commit the result with validated names and config changes.
import * as api from '../api.js';
import * as terminal from './terminal.js';
import * as changesView from './changes.js';
import * as hygiene from './hygiene.js';
import { imageNames } from './images.js';
import { $, h, reveal, showError, setMessage } from '../util.js';

let nav;
let container = null;
let committedRef = null;
/** Refreshing changes and the log after a burst of commands once, not once per command. */
let refreshTimer = 0;

export function init({ navigate }) {
  nav = navigate;
  $('ws-start').addEventListener('click', startContainer);
  $('ws-stop').addEventListener('click', stopContainer);
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
}

/** Makes `c` (a ContainerDto) the workshop's container and opens a shell in it. */
function attach(c) {
  container = c.id;
  $('ws-container').textContent = `container ${c.name || c.short_id} from ${c.image}`;
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
      refreshTimer = window.setTimeout(refreshChanges, 300);
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
    attach(params.container);
    refreshChanges();
  }
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

async function startContainer() {
  const image = $('ws-image').value;
  if (!image) return;
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
  try {
    await terminal.close();
    await api.removeWorkshop(removing);
    // A workshop started while this one was being removed stays attached.
    if (container !== removing) return;
    container = null;
    $('ws-container').textContent = 'no container';
    $('ws-container').dataset.state = 'none';
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

async function commit() {
  if (!container) {
    setMessage($('commit-result'), 'Start a container first.', 'error');
    return;
  }
  if (!(await validate())) return;
  // The config changes go to the core as Dockerfile-like lines; the core parses and validates them
  // and its message names the instruction that is wrong.
  const changes = [];
  const add = (instr, v) => v && changes.push(`${instr} ${v}`);
  add('CMD', $('commit-cmd').value.trim());
  add('ENTRYPOINT', $('commit-entrypoint').value.trim());
  for (const e of envLines()) add('ENV', e);
  add('WORKDIR', $('commit-workdir').value.trim());
  add('USER', $('commit-user').value.trim());
  for (const p of list($('commit-expose').value)) add('EXPOSE', p);
  for (const l of list($('commit-labels').value)) add('LABEL', l);
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
