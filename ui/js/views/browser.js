// Registry browser: catalog (paged, filtered), tags with digest/size/created/platforms, tag
// details, delete with a confirmation naming the other tags on the same digest, and copying an
// image in from another registry with progress.
import * as api from '../api.js';
import { LayerBars, followCopy } from '../progress.js';
import { pullBackPanel } from './pull_back.js';
import { openingProfile, rememberProfile, showLoadFailure } from './browser_state.js';
import { $, h, reveal, showError, setMessage, formatBytes, formatDate, shortDigest } from '../util.js';

const PAGE = 100;
let repos = [];
let nextLast = null;
let repo = null;
let tags = [];
let pendingDelete = null;
let copyOp = null;

export function init() {
  $('browser-load').addEventListener('click', () => load(true));
  $('browser-more').addEventListener('click', () => load(false));
  $('browser-filter').addEventListener('input', renderRepos);
  $('browser-profile').addEventListener('change', () => load(true));
  $('delete-cancel').addEventListener('click', () => reveal($('delete-dialog'), false));
  $('delete-confirm').addEventListener('click', doDelete);
  $('copy-open').addEventListener('click', openCopy);
  $('copy-close').addEventListener('click', () => reveal($('copy-dialog'), false));
  $('copy-start').addEventListener('click', copy);
  $('copy-cancel').addEventListener('click', () => copyOp && api.cancel(copyOp).catch(() => {}));
}

export async function show() {
  const sel = $('browser-profile');
  const keep = sel.value;
  try {
    const profiles = await api.listProfiles();
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
    const page = await api.catalog(profile(), nextLast, PAGE);
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
  try {
    tags = await api.listTags(profile(), r);
    renderTags();
  } catch (e) {
    showError($('browser-error'), e);
  }
}

function renderTags() {
  $('browser-tags-body').replaceChildren(
    ...tags.map((t) =>
      h('tr', { 'data-testid': 'tag-row', 'data-tag': t.tag, 'data-digest': t.digest || '' },
        h('td', {}, t.tag),
        h('td', { class: 'mono', title: t.digest || '' }, shortDigest(t.digest)),
        h('td', {}, formatBytes(t.size)),
        h('td', {}, formatDate(t.created)),
        h('td', {}, t.error ? h('span', { class: 'error' }, t.error) : (t.platforms || []).join(', ')),
        h('td', {},
          h('button', { 'data-testid': 'tag-details', onclick: () => details(t.tag) }, 'Details'),
          h('button', { class: 'danger', 'data-testid': 'tag-delete', onclick: () => askDelete(t) }, 'Delete')))),
  );
  if (!tags.length) $('browser-tags-body').replaceChildren(h('tr', {}, h('td', { colSpan: 6, class: 'muted' }, 'No tags.')));
}

async function details(tag) {
  const box = $('tag-detail');
  reveal(box, true);
  box.textContent = 'Loading…';
  try {
    const d = await api.tagDetails(profile(), repo, tag);
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

function askDelete(t) {
  pendingDelete = t;
  const others = tags.filter((x) => x.tag !== t.tag && x.digest && x.digest === t.digest).map((x) => x.tag);
  $('delete-text').textContent = others.length
    ? `Delete ${repo}:${t.tag}? The registry deletes by digest, so these tags on the same digest go too: ${others.join(', ')}.`
    : `Delete ${repo}:${t.tag} (${shortDigest(t.digest)})? No other tag points at this digest.`;
  reveal($('delete-dialog'), true);
  $('delete-dialog').scrollIntoView();
}

async function doDelete() {
  const t = pendingDelete;
  if (!t) return;
  try {
    await api.deleteTag(profile(), repo, t.tag);
    reveal($('delete-dialog'), false);
    pendingDelete = null;
    await openRepo(repo);
  } catch (e) {
    $('delete-text').textContent = e.message;
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
