// Engine status: which engine answers, its version, or the core's error with its fix; containers;
// and the managed local registry offered when nothing answers at 127.0.0.1:5000.
import * as api from '../api.js';
import { $, h, formatDate, setMessage } from '../util.js';

let nav;

export function init({ navigate }) {
  nav = navigate;
  $('engine-retry').addEventListener('click', () => refresh());
}

export function show() {
  refresh();
}

async function refresh() {
  const box = $('engine-status');
  const badge = $('nav-engine-badge');
  box.dataset.state = 'loading';
  box.textContent = 'Checking the engine…';
  try {
    const s = await api.engineStatus();
    box.dataset.state = 'ok';
    box.className = 'card ok-card';
    box.replaceChildren(
      h('div', { class: 'big', 'data-testid': 'engine-name' }, `${s.name} ${s.version}`),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Reachable at'), h('dd', { 'data-testid': 'engine-endpoint' }, s.endpoint),
        h('dt', {}, 'API version'), h('dd', {}, s.api_version || ''),
        h('dt', {}, 'OS / arch'), h('dd', {}, [s.os, s.arch].filter(Boolean).join(' / '))),
    );
    badge.textContent = `engine: ${s.version || 'ok'}`;
    badge.dataset.state = 'ok';
    loadContainers();
  } catch (e) {
    box.dataset.state = 'error';
    box.className = 'card error-card';
    box.replaceChildren(
      h('div', { class: 'big' }, 'Engine not reachable'),
      h('p', { 'data-testid': 'engine-error', 'data-code': e.code }, e.message),
    );
    badge.textContent = 'engine: unreachable';
    $('containers-body').replaceChildren(h('tr', {}, h('td', { colSpan: 5, class: 'muted' }, 'Containers appear here once the engine answers.')));
    badge.dataset.state = 'error';
  }
  loadLocalRegistry();
}

async function loadContainers() {
  const body = $('containers-body');
  try {
    const list = await api.listContainers();
    body.replaceChildren(
      ...list.map((c) =>
        h('tr', { 'data-testid': 'container-row', 'data-id': c.id },
          h('td', {}, c.name || c.short_id),
          h('td', {}, c.image || ''),
          h('td', {}, c.state || ''),
          h('td', {}, c.status || formatDate(c.created)),
          h('td', {}, c.workshop && c.state === 'running'
            ? h('button', { 'data-testid': 'container-open', onclick: () => nav('workshop', { container: c }) }, 'Open in workshop')
            : ''))),
    );
    if (list.length === 0) body.replaceChildren(h('tr', {}, h('td', { colSpan: 5, class: 'muted' }, 'No containers.')));
  } catch (e) {
    body.replaceChildren(h('tr', {}, h('td', { colSpan: 5, class: 'error' }, e.message)));
  }
}

async function loadLocalRegistry() {
  const box = $('local-registry');
  try {
    const st = await api.localRegistryStatus();
    render(box, st);
  } catch (e) {
    box.replaceChildren(h('h2', {}, 'Local registry'), h('p', { class: 'error' }, e.message));
  }
}

function render(box, st) {
  const msg = h('div', { 'data-testid': 'local-registry-msg' });
  const children = [h('h2', {}, 'Local registry')];
  if (st.answering && !st.managed) {
    children.push(h('p', { 'data-testid': 'local-registry-state', 'data-state': 'external' },
      `A registry already answers at ${st.address}; Slipway uses it as the default.`));
  } else if (st.running) {
    children.push(
      h('p', { 'data-testid': 'local-registry-state', 'data-state': 'running' },
        `Slipway's registry is running at ${st.address} (${st.backend}), data in ${st.data_dir}.`),
      h('button', { 'data-testid': 'local-registry-stop', onclick: () => act(box, msg, api.localRegistryStop) }, 'Stop'));
  } else if (st.available) {
    children.push(
      h('p', { 'data-testid': 'local-registry-state', 'data-state': 'stopped' },
        `Nothing answers at ${st.address}. Slipway can run a registry for you there (${st.backend}, loopback only, deletes enabled, data in ${st.data_dir}).`),
      h('button', { class: 'primary', 'data-testid': 'local-registry-start', onclick: () => act(box, msg, api.localRegistryStart) }, 'Start local registry'));
  } else {
    children.push(h('p', { 'data-testid': 'local-registry-state', 'data-state': 'unavailable' }, st.hint || 'No registry backend is available.'));
  }
  children.push(msg);
  box.replaceChildren(...children);
}

async function act(box, msg, fn) {
  setMessage(msg, 'Working…');
  try {
    render(box, await fn());
  } catch (e) {
    setMessage(msg, e.message, 'error');
  }
}
