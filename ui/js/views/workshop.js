// Workshop: start a container from an image, run commands in a console with streamed output,
// see what changed, and commit the result with validated names and config changes.
import * as api from '../api.js';
import { imageNames } from './images.js';
import { $, h, reveal, showError, setMessage, formatBytes, stripAnsi } from '../util.js';

let nav;
let container = null;
let execOp = null;
const history = [];
let historyPos = 0;
let committedRef = null;

export function init({ navigate }) {
  nav = navigate;
  $('ws-start').addEventListener('click', startContainer);
  $('ws-stop').addEventListener('click', stopContainer);
  $('console-run').addEventListener('click', run);
  $('console-cancel').addEventListener('click', () => execOp && api.cancel(execOp).catch(() => {}));
  $('console-input').addEventListener('keydown', onKey);
  $('changes-refresh').addEventListener('click', refreshChanges);
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
  $('commit-push').addEventListener('click', () => nav('images', { push: committedRef }));
}

/** Makes `c` (a ContainerDto) the workshop's container. */
function attach(c) {
  container = c.id;
  $('ws-container').textContent = `container ${c.name || c.short_id} from ${c.image}`;
  $('ws-container').dataset.state = 'running';
  $('ws-container').dataset.container = container;
  showError($('ws-error'), null);
}

export async function show(params = {}) {
  if (params.container && params.container.id !== container) {
    attach(params.container);
    $('console-out').textContent = '';
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
  try {
    attach(await api.startWorkshop(image));
    $('console-out').textContent = '';
    $('changes-body').replaceChildren();
    $('ws-log').replaceChildren();
    $('console-input').focus();
  } catch (e) {
    $('ws-container').textContent = 'no container';
    showError($('ws-error'), e);
  }
}

async function stopContainer() {
  if (!container) return;
  try {
    await api.removeWorkshop(container);
    container = null;
    $('ws-container').textContent = 'no container';
    $('ws-container').dataset.state = 'none';
  } catch (e) {
    showError($('ws-error'), e);
  }
}

function onKey(ev) {
  if (ev.key === 'Enter') {
    run();
  } else if (ev.key === 'ArrowUp' && history.length) {
    historyPos = Math.max(0, historyPos - 1);
    $('console-input').value = history[historyPos];
    ev.preventDefault();
  } else if (ev.key === 'ArrowDown' && history.length) {
    historyPos = Math.min(history.length, historyPos + 1);
    $('console-input').value = history[historyPos] || '';
    ev.preventDefault();
  }
}

function append(text, cls) {
  const out = $('console-out');
  out.append(h('span', { class: cls }, stripAnsi(text)));
  out.scrollTop = out.scrollHeight;
}

async function run() {
  const command = $('console-input').value.trim();
  if (!command) return;
  if (execOp) {
    // One command at a time, as in a terminal; the typed command stays in the input.
    showError($('ws-error'), { message: 'A command is still running; wait for it or press Cancel.' });
    return;
  }
  if (!container) {
    showError($('ws-error'), { message: 'Start a container first: pick an image and press "Start container".' });
    return;
  }
  showError($('ws-error'), null);
  history.push(command);
  historyPos = history.length;
  $('console-input').value = '';
  append(`$ ${command}\n`, 'cmd');
  $('console-exit').textContent = 'running…';
  $('console-exit').dataset.state = 'running';
  execOp = api.newOpId('exec');
  try {
    const res = await api.execInConsole(container, command, execOp, (ev) => {
      if (ev.event !== 'output') return;
      append(ev.chunk.text, ev.chunk.stream === 'stderr' ? 'stderr' : 'stdout');
    });
    const code = res.exit_code;
    $('console-exit').textContent = `exit code ${code}`;
    $('console-exit').dataset.state = 'done';
    $('console-exit').dataset.exitCode = code;
  } catch (e) {
    append(`${e.message}\n`, 'stderr');
    $('console-exit').textContent = e.code === 'cancelled' ? 'cancelled' : 'failed';
    $('console-exit').dataset.state = 'error';
  } finally {
    execOp = null;
    refreshChanges();
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
          onclick: () => {
            $('console-input').value = e.command;
            $('console-input').focus();
          },
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
    const changes = await api.containerChanges(container);
    $('changes-body').replaceChildren(
      ...changes.map((c) =>
        h('tr', { 'data-testid': 'change-row', 'data-path': c.path },
          h('td', { class: `kind-${String(c.kind).toLowerCase()}` }, c.kind),
          h('td', { class: 'mono' }, c.path),
          h('td', {}, formatBytes(c.size)))),
    );
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
  for (const e of list($('commit-env').value)) add('ENV', e);
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
