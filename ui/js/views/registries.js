// Registries: add, edit and remove profiles; Test shows what the registry can do. Passwords go
// to the credential store through the core and are never shown again.
import * as api from '../api.js';
import { $, h, reveal, setMessage } from '../util.js';

let editing = null;
/** The Test or Save that Stop stops. */
let profileOp = null;

/** Runs `work(opId)` with Stop shown while it talks to the registry. */
async function stoppable(kind, work) {
  const op = api.newOpId(kind);
  profileOp = op;
  reveal($('profile-stop'), true);
  try {
    return await work(op);
  } finally {
    if (profileOp === op) {
      profileOp = null;
      reveal($('profile-stop'), false);
    }
  }
}

export function init() {
  $('profile-save').addEventListener('click', save);
  $('profile-test').addEventListener('click', test);
  $('profile-clear').addEventListener('click', () => fill(null));
  $('profile-docker-creds').addEventListener('change', syncAuth);
  $('profile-stop').addEventListener('click', () => profileOp && api.cancel(profileOp).catch(() => {}));
}

export function show() {
  refresh();
}

function syncAuth() {
  const docker = $('profile-docker-creds').checked;
  $('profile-username').disabled = docker;
  $('profile-password').disabled = docker;
}

async function refresh() {
  try {
    const profiles = await api.listProfiles();
    $('profiles-body').replaceChildren(
      ...profiles.map((p) =>
        h('tr', { 'data-testid': 'profile-row', 'data-name': p.name },
          h('td', {}, p.name, p.managed ? h('span', { class: 'pill' }, 'default') : ''),
          h('td', { class: 'mono' }, p.address),
          h('td', {}, p.allow_http ? 'allowed' : 'TLS only'),
          h('td', {}, p.use_docker_credentials ? 'Docker credentials' : p.username ? `user ${p.username}` : 'anonymous'),
          h('td', {},
            h('button', { 'data-testid': 'profile-elsewhere', onclick: () => elsewhere(p.name) }, 'Use elsewhere'),
            p.managed ? '' : h('button', { onclick: () => fill(p) }, 'Edit'),
            p.managed ? '' : h('button', { class: 'danger', 'data-testid': 'profile-remove', onclick: () => remove(p.name) }, 'Remove')))),
    );
  } catch (e) {
    setMessage($('profile-msg'), e.message, 'error');
  }
}

/** The files another machine needs to use this registry, as core derives them from the profile. */
async function elsewhere(name) {
  const box = $('elsewhere');
  reveal(box, true);
  try {
    const e = await api.elsewhere(name);
    $('elsewhere-title').textContent = `Use ${e.address} from another machine (${e.transport})`;
    $('elsewhere-note').textContent = e.warning
      || (e.snippets.length ? '' : 'A certificate from a public CA: other machines need nothing.');
    $('elsewhere-snippets').replaceChildren(...e.snippets.map((s) =>
      h('div', { 'data-testid': 'elsewhere-snippet', 'data-tool': s.tool },
        h('h4', {}, `${s.tool}: `, h('span', { class: 'mono' }, s.path)),
        h('pre', { class: 'code' }, s.content),
        h('p', { class: 'muted' }, s.then))));
  } catch (err) {
    $('elsewhere-note').textContent = err.message;
  }
  box.scrollIntoView();
}

function fill(p) {
  editing = p ? p.name : null;
  $('profile-form-title').textContent = p ? `Edit ${p.name}` : 'Add a registry';
  $('profile-name').value = p ? p.name : '';
  $('profile-address').value = p ? p.address : '';
  $('profile-http').checked = p ? !!p.allow_http : false;
  $('profile-ca').value = (p && p.ca_file) || '';
  $('profile-docker-creds').checked = p ? !!p.use_docker_credentials : false;
  $('profile-username').value = (p && p.username) || '';
  $('profile-password').value = '';
  setMessage($('profile-msg'), '');
  syncAuth();
}

function formProfile() {
  const docker = $('profile-docker-creds').checked;
  return {
    name: $('profile-name').value.trim() || $('profile-address').value.trim(),
    address: $('profile-address').value.trim(),
    allow_http: $('profile-http').checked,
    ca_file: $('profile-ca').value.trim() || null,
    use_docker_credentials: docker,
    username: docker ? null : $('profile-username').value.trim() || null,
    managed: false,
  };
}

function password() {
  return $('profile-docker-creds').checked ? null : $('profile-password').value || null;
}

async function save() {
  try {
    const p = await stoppable('save', (op) => api.saveProfile(formProfile(), password(), op));
    if (editing && editing !== p.name) await api.removeProfile(editing);
    editing = p.name;
    $('profile-password').value = '';
    setMessage($('profile-msg'), `Saved ${p.name}.`, 'ok');
    refresh();
  } catch (e) {
    setMessage($('profile-msg'), e.message, 'error');
  }
}

async function remove(name) {
  try {
    await api.removeProfile(name);
    if (editing === name) fill(null);
    refresh();
  } catch (e) {
    setMessage($('profile-msg'), e.message, 'error');
  }
}

async function test() {
  const msg = $('profile-msg');
  setMessage(msg, 'Testing…');
  msg.dataset.state = 'running';
  try {
    const probe = await stoppable('test', (op) => api.testProfile(formProfile(), password(), op));
    msg.className = 'ok';
    msg.dataset.kind = 'ok';
    msg.dataset.state = 'ok';
    const rows = Object.entries(probe).map(([k, v]) =>
      h('tr', {}, h('td', {}, k.replaceAll('_', ' ')), h('td', { class: 'mono' }, typeof v === 'object' ? JSON.stringify(v) : String(v))));
    msg.replaceChildren(h('div', {}, 'The registry answered.'), h('table', { class: 'grid', 'data-testid': 'probe-table' }, h('tbody', {}, ...rows)));
  } catch (e) {
    setMessage(msg, e.message, 'error');
    msg.dataset.state = 'error';
  }
}
