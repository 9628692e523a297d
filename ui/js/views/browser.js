// Registry browser: catalog (paged, filtered), tags (sorted by core, paged) with
// digest/size/created/platforms, tag details, checkboxes for a bulk delete, and copying an image
// in from another registry with progress. Delete plans and garbage collection live in
// housekeeping.js.
import * as api from '../api.js';
import { LayerBars, followCopy } from '../progress.js';
import { pullBackPanel } from './pull_back.js';
import { openingProfile, rememberProfile, showLoadFailure } from './browser_state.js';
import { $, h, reveal, showError, setMessage, formatBytes, formatDate, shortDigest } from '../util.js';
import * as housekeeping from './housekeeping.js';

const PAGE = 100;
const TAG_PAGE = 50;
let repos = [];
let nextLast = null;
let repo = null;
let tags = [];
let nextTags = null;
let profiles = [];
const selected = new Set();
let copyOp = null;
/** The registry call the Stop button stops (catalog, tags, details or delete). */
let browseOp = null;

/** Runs `work(opId)` as the browser's current registry call, with Stop shown while it runs. */
async function stoppable(kind, work) {
  const op = api.newOpId(kind);
  browseOp = op;
  reveal($('browser-stop'), true);
  try {
    return await work(op);
  } finally {
    if (browseOp === op) {
      browseOp = null;
      reveal($('browser-stop'), false);
    }
  }
}

export function init() {
  $('browser-load').addEventListener('click', () => load(true));
  $('browser-more').addEventListener('click', () => load(false));
  $('browser-filter').addEventListener('input', renderRepos);
  $('browser-profile').addEventListener('change', () => load(true));
  $('tag-sort').addEventListener('change', () => repo && openRepo(repo));
  $('tags-more').addEventListener('click', () => loadTags(false));
  $('tags-delete-selected').addEventListener('click', () =>
    housekeeping.plan({ selection: { tags: [...selected] } }));
  $('bulk-plan').addEventListener('click', () => {
    const keep = parseInt($('bulk-keep').value, 10);
    housekeeping.plan({ selection: {
      tags: [],
      filter: $('bulk-filter').value.trim() || null,
      older_than: $('bulk-older').value.trim() || null,
      keep_newest: Number.isNaN(keep) ? null : keep,
    } });
  });
  housekeeping.init({ profile: () => profile(), managed: () => isManaged(), repo: () => repo, reload: () => repo && openRepo(repo) });
  $('copy-open').addEventListener('click', openCopy);
  $('copy-close').addEventListener('click', () => reveal($('copy-dialog'), false));
  $('copy-start').addEventListener('click', copy);
  $('copy-cancel').addEventListener('click', () => copyOp && api.cancel(copyOp).catch(() => {}));
  $('browser-stop').addEventListener('click', () => browseOp && api.cancel(browseOp).catch(() => {}));
}

export async function show() {
  const sel = $('browser-profile');
  const keep = sel.value;
  try {
    profiles = await api.listProfiles();
    const opts = profiles.map((p) => h('option', { value: p.name }, `${p.name} (${p.address})`));
    sel.replaceChildren(...opts);
    $('copy-from-profile').replaceChildren(...profiles.map((p) => h('option', { value: p.name }, `${p.name} (${p.address})`)));
    sel.value = openingProfile(profiles, keep);
    if (sel.value) load(true);
  } catch (e) {
    showError($('browser-error'), e);
  }
}

const profile = () => $('browser-profile').value;
const isManaged = () => profiles.some((p) => p.name === profile() && p.managed);

async function load(reset) {
  if (!profile()) return;
  rememberProfile(profile());
  if (reset) {
    repos = [];
    nextLast = null;
    repo = null;
    $('browser-tags-body').replaceChildren();
    reveal($('tag-detail'), false);
  }
  // A retry clears the old failure first, so what shows is always about this attempt.
  showLoadFailure($('browser-error'), null, null);
  try {
    const page = await stoppable('catalog', (op) => api.catalog(profile(), nextLast, PAGE, op));
    const names = page.repositories;
    repos = repos.concat(names);
    nextLast = page.next;
    reveal($('browser-more'), !!nextLast);
    showLoadFailure($('browser-error'), null, null);
  } catch (e) {
    showLoadFailure($('browser-error'), e, () => load(reset));
  }
  renderRepos();
}

function renderRepos() {
  const f = $('browser-filter').value.trim().toLowerCase();
  const items = repos
    .filter((r) => !f || r.toLowerCase().includes(f))
    .map((r) => h('li', { 'data-testid': 'repo-item', 'data-repo': r, class: r === repo ? 'selected' : '', onclick: () => openRepo(r) }, r));
  $('browser-repos').replaceChildren(...items);
  if (!items.length) $('browser-repos').replaceChildren(h('li', { class: 'muted' }, repos.length ? 'No match.' : 'No repositories.'));
}

async function openRepo(r) {
  repo = r;
  renderRepos();
  $('browser-repo-title').textContent = `Tags of ${r}`;
  reveal($('tag-detail'), false);
  // A ledger counted before a delete or a GC would be stale now.
  reveal($('usage'), false);
  await loadTags(true);
}

/** A page of tags in the chosen order; core reads details for that page only. */
async function loadTags(reset) {
  if (reset) {
    tags = [];
    nextTags = 0;
    selected.clear();
  }
  if (nextTags === null) return;
  try {
    const page = await stoppable('tags', (op) =>
      api.listTagPage(profile(), repo, $('tag-sort').value, nextTags, TAG_PAGE, op));
    tags = tags.concat(page.rows);
    nextTags = page.next_offset ?? null;
    reveal($('tags-more'), nextTags !== null);
    $('repo-empty').textContent = page.empty || '';
    reveal($('repo-empty'), !!page.empty);
    showError($('browser-error'), null);
    renderTags();
  } catch (e) {
    showError($('browser-error'), e);
  }
}

function toggle(tag, on) {
  if (on) selected.add(tag);
  else selected.delete(tag);
  $('tags-delete-selected').disabled = selected.size === 0;
  $('tags-delete-selected').textContent = selected.size ? `Delete ${selected.size} selected…` : 'Delete selected…';
}

function renderTags() {
  toggle('', false);
  $('browser-tags-body').replaceChildren(
    ...tags.map((t) =>
      h('tr', { 'data-testid': 'tag-row', 'data-tag': t.tag, 'data-digest': t.digest || '' },
        h('td', {}, h('input', { type: 'checkbox', 'data-testid': 'tag-select', checked: selected.has(t.tag), onchange: (e) => toggle(t.tag, e.target.checked) })),
        h('td', {}, t.tag),
        h('td', { class: 'mono', title: t.digest || '' }, shortDigest(t.digest)),
        h('td', {}, formatBytes(t.size)),
        h('td', {}, formatDate(t.created)),
        h('td', {}, t.error ? h('span', { class: 'error' }, t.error) : (t.platforms || []).join(', ')),
        h('td', {},
          h('button', { 'data-testid': 'tag-details', onclick: () => details(t.tag) }, 'Details'),
          h('button', { class: 'danger', 'data-testid': 'tag-delete', title: 'Delete this tag only', onclick: () => housekeeping.plan({ tag: t.tag }) }, 'Delete'),
          h('button', { class: 'danger', 'data-testid': 'tag-delete-manifest', title: 'Delete the manifest and every tag on it', onclick: () => housekeeping.plan({ tag: t.tag, allTags: true }) }, 'Delete all tags')))),
  );
  if (!tags.length) $('browser-tags-body').replaceChildren(h('tr', {}, h('td', { colSpan: 7, class: 'muted' }, 'No tags.')));
}

async function details(tag) {
  const box = $('tag-detail');
  reveal(box, true);
  box.textContent = 'Loading…';
  try {
    const d = await stoppable('details', (op) => api.tagDetails(profile(), repo, tag, op));
    box.replaceChildren(
      h('h3', {}, `${repo}:${tag}`),
      h('dl', { class: 'kv' },
        h('dt', {}, 'Digest'), h('dd', { class: 'mono', 'data-testid': 'tag-detail-digest' }, d.digest),
        h('dt', {}, 'Media type'), h('dd', { class: 'mono' }, d.media_type),
        h('dt', {}, 'Platforms'), h('dd', {}, (d.platforms.length ? d.platforms : [d.platform]).filter(Boolean).join(', ')),
        h('dt', {}, 'Size'), h('dd', {}, formatBytes(d.total_size)),
        h('dt', {}, 'Created'), h('dd', {}, formatDate(d.created))),
      pullBackPanel(profile(), repo, tag, d.digest),
      h('h4', {}, 'Layers'),
      h('table', { class: 'grid' }, h('tbody', {},
        ...d.layers.map((l) => h('tr', {}, h('td', { class: 'mono', title: l.digest }, shortDigest(l.digest)), h('td', {}, formatBytes(l.size)), h('td', { class: 'mono' }, l.media_type))))),
      h('h4', {}, 'History'),
      h('pre', { class: 'code' }, (d.history || []).map((x) => `${x.created || ''}  ${x.created_by || ''}`).join('\n')),
      h('h4', {}, 'Config'),
      h('pre', { class: 'code' }, JSON.stringify(d.config_json ?? {}, null, 2)));
  } catch (e) {
    box.replaceChildren(h('p', { class: 'error' }, e.message));
  }
}

function openCopy() {
  reveal($('copy-dialog'), true);
  setMessage($('copy-result'), '');
  $('copy-layers').replaceChildren();
}

async function copy() {
  const bars = new LayerBars($('copy-layers'));
  setMessage($('copy-result'), 'Copying…');
  copyOp = api.newOpId('copy');
  try {
    const res = await api.copyImage($('copy-from-profile').value, $('copy-source').value.trim(), profile(), $('copy-target').value.trim(), copyOp, followCopy(bars));
    setMessage($('copy-result'), `Copied ${res.reference}: ${res.blobs_copied} blobs, ${formatBytes(res.bytes_copied)}; digest ${res.digest}`, 'ok');
    load(true);
  } catch (e) {
    setMessage($('copy-result'), e.message, 'error');
  } finally {
    copyOp = null;
  }
}
