// Images: list with filter, pull with per-layer bars, inspect, tag, remove, and push to a chosen
// registry with per-layer bars, overall bytes and the final digest.
import * as api from '../api.js';
import { describe } from '../hints.js';
import { LayerBars, PhaseLine, followPull, followPush } from '../progress.js';
import { cancelFetch, fetchInto } from './pull_back.js';
import * as buildDialog from './build.js';
import { $, h, reveal, showError, setMessage, formatBytes, formatDate, shortDigest } from '../util.js';

let images = [];
let selected = null;
let pullOp = null;
let pushOp = null;
let nav;

export function init({ navigate }) {
  nav = navigate;
  $('images-filter').addEventListener('input', render);
  $('images-refresh').addEventListener('click', refresh);
  $('pull-start').addEventListener('click', pull);
  $('pull-cancel').addEventListener('click', () => (pullOp ? api.cancel(pullOp).catch(() => {}) : cancelFetch()));
  $('image-detail-close').addEventListener('click', () => reveal($('image-detail'), false));
  $('tag-apply').addEventListener('click', tag);
  $('image-remove').addEventListener('click', remove);
  $('image-push-open').addEventListener('click', () => openPush(selected));
  $('image-workshop').addEventListener('click', () => nav('workshop', { image: selected }));
  $('push-start').addEventListener('click', () => push('auto'));
  $('push-cancel').addEventListener('click', () => pushOp && api.cancel(pushOp).catch(() => {}));
  buildDialog.init({ onBuilt: () => refresh(), onPush: (ref) => openPush(ref) });
}


export async function show(params = {}) {
  await refresh();
  if (params.push) openPush(params.push);
  if (params.build) buildDialog.open(params.build);
}

/**
 * The names an image is known by: its tags, or its short id when it has none.
 * @param {import('../types/ImageDto').ImageDto} img
 */
export function imageNames(img) {
  return img.tags.length ? img.tags : [img.short_id];
}

async function refresh() {
  try {
    images = await api.listImages();
    showError($('images-error'), null);
  } catch (e) {
    images = [];
    showError($('images-error'), e);
  }
  render();
}

function render() {
  const f = $('images-filter').value.trim().toLowerCase();
  const rows = [];
  for (const img of images) {
    for (const name of imageNames(img)) {
      if (f && !name.toLowerCase().includes(f)) continue;
      rows.push(
        h('tr', { 'data-testid': 'image-row', 'data-ref': name },
          h('td', {}, name),
          h('td', { class: 'mono' }, shortDigest(img.id)),
          h('td', {}, formatBytes(img.size)),
          h('td', {}, formatDate(img.created)),
          h('td', {}, h('button', { 'data-testid': 'image-open', onclick: () => open(name) }, 'Inspect'))));
    }
  }
  $('images-body').replaceChildren(...rows);
  if (!rows.length) $('images-body').replaceChildren(h('tr', {}, h('td', { colSpan: 5, class: 'muted' }, 'No images.')));
}

async function open(ref) {
  selected = ref;
  $('image-detail-title').textContent = ref;
  setMessage($('image-detail-msg'), '');
  reveal($('image-detail'), true);
  $('image-layers').replaceChildren();
  $('image-config').textContent = 'Loading…';
  try {
    const d = await api.inspectImage(ref);
    const diffIds = d.diff_ids || [];
    $('image-layers').replaceChildren(
      ...diffIds.map((id, i) => h('tr', { 'data-testid': 'image-layer' }, h('td', {}, i + 1), h('td', { class: 'mono', title: id }, shortDigest(id)))));
    $('image-history').replaceChildren(
      ...(d.history || []).map((x) =>
        h('tr', {}, h('td', {}, formatDate(x.created)), h('td', {}, formatBytes(x.size)), h('td', { class: 'mono' }, x.created_by || x.comment || ''))));
    const { history, diff_ids, ...config } = d;
    $('image-config').textContent = JSON.stringify(config, null, 2);
  } catch (e) {
    $('image-config').textContent = '';
    setMessage($('image-detail-msg'), describe(e), 'error');
  }
}

async function tag() {
  try {
    const target = $('tag-target').value.trim();
    await api.tagImage(selected, target);
    setMessage($('image-detail-msg'), `Tagged ${target}.`, 'ok');
    $('tag-target').value = '';
    refresh();
  } catch (e) {
    setMessage($('image-detail-msg'), describe(e), 'error');
  }
}

let removeArmed = false;

/** Remove asks once in the page (a second click confirms), never through a native dialog. */
async function remove() {
  const btn = $('image-remove');
  if (!removeArmed) {
    removeArmed = true;
    btn.textContent = `Really remove ${selected}?`;
    setTimeout(() => {
      removeArmed = false;
      btn.textContent = 'Remove';
    }, 5000);
    return;
  }
  removeArmed = false;
  btn.textContent = 'Remove';
  try {
    await api.removeImage(selected);
    reveal($('image-detail'), false);
    refresh();
  } catch (e) {
    setMessage($('image-detail-msg'), describe(e), 'error');
  }
}

async function pull() {
  const ref = $('pull-ref').value.trim();
  if (!ref) return;
  reveal($('pull-panel'), true);
  $('pull-title').textContent = ref;
  setMessage($('pull-result'), '');
  // An image on a registry the user has a profile for comes back through Slipway's fetch, with
  // the profile's HTTP, CA and credentials; anything else goes through the engine's own pull.
  let viaProfile = null;
  try {
    viaProfile = await api.pullProfile(ref);
  } catch (e) {
    setMessage($('pull-result'), describe(e), 'error');
    return;
  }
  $('pull-panel').dataset.route = viaProfile ? 'fetch' : 'engine';
  if (viaProfile) {
    // The profile matched the reference's host, so the path is everything after the first '/'.
    const ok = await fetchInto(viaProfile, ref.slice(ref.indexOf('/') + 1), $('pull-layers'), $('pull-phase'), $('pull-result'));
    if (ok) refresh();
    return;
  }
  const bars = new LayerBars($('pull-layers'));
  const phase = new PhaseLine($('pull-phase'));
  pullOp = api.newOpId('pull');
  try {
    await api.pullImage(ref, pullOp, followPull(bars, phase));
    phase.stop();
    bars.sumOverall(true);
    setMessage($('pull-result'), `Pulled ${ref}.`, 'ok');
    refresh();
  } catch (e) {
    phase.stop();
    setMessage($('pull-result'), describe(e), 'error');
  } finally {
    pullOp = null;
  }
}

/** Opens the push view for `ref`, pre-filling the target with the image's repository path. */
export async function openPush(ref) {
  if (!ref) return;
  reveal($('push-panel'), true);
  $('push-source').value = ref;
  // A reference like host:5000/team/app:1.0 keeps only team/app:1.0 as the target path.
  const parts = ref.split('/');
  const first = parts[0];
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  $('push-target').value = hasHost ? parts.slice(1).join('/') : ref;
  setMessage($('push-result'), '');
  new LayerBars($('push-layers'), $('push-overall-bar'), $('push-overall-text'));
  $('push-phase').textContent = '';
  const sel = $('push-profile');
  try {
    const profiles = await api.listProfiles();
    sel.replaceChildren(...profiles.map((p) => h('option', { value: p.name }, `${p.name} (${p.address})`)));
    if (hasHost) {
      const match = profiles.find((p) => p.address === first);
      if (match) sel.value = match.name;
    }
  } catch (e) {
    setMessage($('push-result'), describe(e), 'error');
  }
  $('push-panel').scrollIntoView();
}

/** @param {import('../types/Route').Route} route core's: `auto`, or the engine's own push when
 * the user takes the offer to teach the engine the image's layers. */
async function push(route) {
  const source = $('push-source').value;
  const profile = $('push-profile').value;
  const target = $('push-target').value.trim();
  const bars = new LayerBars($('push-layers'), $('push-overall-bar'), $('push-overall-text'));
  const phase = new PhaseLine($('push-phase'));
  setMessage($('push-result'), '');
  $('push-result').dataset.state = 'running';
  pushOp = api.newOpId('push');
  try {
    const res = await api.pushImage(source, profile, target, route, pushOp, followPush(bars, phase));
    const secs = Math.round((Date.now() - phase.started) / 1000);
    phase.stop(`pushed in ${secs} s`);
    // Core's last overall event fills the bar too; the answer may overtake it on the channel.
    bars.complete();
    $('push-result').replaceChildren(
      h('span', {}, `Pushed ${res.reference} (${formatBytes(res.uploaded_bytes)} uploaded) `),
      h('span', { class: 'mono', 'data-testid': 'push-digest' }, res.digest));
    if (res.exported_whole) $('push-result').append(exportedWholeOffer(res.exported_whole));
    $('push-result').className = 'ok';
    $('push-result').dataset.state = 'done';
  } catch (e) {
    phase.stop();
    setMessage($('push-result'), describe(e), 'error');
    $('push-result').dataset.state = 'error';
    offerLocalRegistry(profile);
  } finally {
    pushOp = null;
  }
}

/** The engine exported a whole image the registry mostly had (a classic-store Docker engine
 * learns a layer's registry blob only from its own push or pull): offer the one push through the
 * engine that teaches it, after which pushes of commits on this image send only the commit.
 * @param {import('../types/ExportedWhole').ExportedWhole} whole */
function exportedWholeOffer(whole) {
  const btn = h('button', {
    'data-testid': 'push-through-engine',
    onclick: () => {
      btn.disabled = true;
      push('engine');
    },
  }, 'Push once through the engine');
  return h('div', { class: 'muted', 'data-testid': 'push-exported-whole' },
    h('p', {}, `The registry had ${formatBytes(whole.present_bytes)} of this image's `
      + `${formatBytes(whole.image_bytes)}, yet the engine exported all of it: Docker learns which `
      + 'registry blob a layer is only by pushing or pulling that layer itself. Push once through '
      + 'the engine (as slow as docker push), and pushes of images built on this one then send '
      + 'only what changed.'),
    btn);
}

/** A newcomer's first push goes to the built-in `local` profile; when nothing answers there yet,
 * offer to start Slipway's registry and push again, right where the error is. */
async function offerLocalRegistry(profile) {
  if (profile !== 'local') return;
  try {
    const st = await api.localRegistryStatus();
    if (st.answering || !st.available) return;
    const btn = h('button', {
      class: 'primary',
      'data-testid': 'push-start-local',
      onclick: async () => {
        btn.disabled = true;
        try {
          await api.localRegistryStart();
          push('auto');
        } catch (err) {
          setMessage($('push-result'), describe(err), 'error');
        }
      },
    }, `Start the local registry at ${st.address} and push again`);
    $('push-result').append(h('div', {}, btn));
  } catch {
    // The status itself failed; the push error above already says what is wrong.
  }
}
