// Images: list with filter, pull with per-layer bars, inspect, tag, remove, and push to a chosen
// registry with per-layer bars, overall bytes and the final digest.
import * as api from '../api.js';
import { LayerBars } from '../progress.js';
import { $, h, reveal, showError, setMessage, formatBytes, formatDate, shortDigest, pick } from '../util.js';

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
  $('pull-cancel').addEventListener('click', () => pullOp && api.cancel(pullOp).catch(() => {}));
  $('image-detail-close').addEventListener('click', () => reveal($('image-detail'), false));
  $('tag-apply').addEventListener('click', tag);
  $('image-remove').addEventListener('click', remove);
  $('image-push-open').addEventListener('click', () => openPush(selected));
  $('image-workshop').addEventListener('click', () => nav('workshop', { image: selected }));
  $('push-start').addEventListener('click', push);
  $('push-cancel').addEventListener('click', () => pushOp && api.cancel(pushOp).catch(() => {}));
}


export async function show(params = {}) {
  await refresh();
  if (params.push) openPush(params.push);
}

/** The names an image is known by: its tags, or its short id when it has none. */
export function imageNames(img) {
  const tags = pick(img, 'tags', 'repo_tags') || [];
  return tags.length ? tags : [(img.id || '').replace('sha256:', '').slice(0, 12)];
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
    setMessage($('image-detail-msg'), e.message, 'error');
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
    setMessage($('image-detail-msg'), e.message, 'error');
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
    setMessage($('image-detail-msg'), e.message, 'error');
  }
}

async function pull() {
  const ref = $('pull-ref').value.trim();
  if (!ref) return;
  reveal($('pull-panel'), true);
  $('pull-title').textContent = ref;
  const bars = new LayerBars($('pull-layers'));
  setMessage($('pull-result'), 'Pulling…');
  pullOp = api.newOpId('pull');
  try {
    await api.pullImage(ref, pullOp, (ev) => bars.update(ev));
    bars.finishAll();
    setMessage($('pull-result'), `Pulled ${ref}.`, 'ok');
    refresh();
  } catch (e) {
    setMessage($('pull-result'), e.message, 'error');
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
  new LayerBars($('push-layers'));
  $('push-overall-bar').value = 0;
  $('push-overall-text').textContent = '';
  const sel = $('push-profile');
  try {
    const profiles = await api.listProfiles();
    sel.replaceChildren(...profiles.map((p) => h('option', { value: p.name }, `${p.name} (${p.address})`)));
    if (hasHost) {
      const match = profiles.find((p) => p.address === first);
      if (match) sel.value = match.name;
    }
  } catch (e) {
    setMessage($('push-result'), e.message, 'error');
  }
  $('push-panel').scrollIntoView();
}

async function push() {
  const source = $('push-source').value;
  const profile = $('push-profile').value;
  const target = $('push-target').value.trim();
  const bars = new LayerBars($('push-layers'));
  const overall = $('push-overall-bar');
  overall.value = 0;
  $('push-overall-text').textContent = '';
  setMessage($('push-result'), 'Pushing…');
  $('push-result').dataset.state = 'running';
  pushOp = api.newOpId('push');
  try {
    const res = await api.pushImage(source, profile, target, pushOp, (ev) => {
      // Overall counts uncompressed bytes across all layers; the rest is one event per blob step.
      if (ev.event === 'overall') {
        overall.max = ev.total || 1;
        overall.value = Math.min(ev.done, ev.total || 1);
        // Clamped: the last Overall event can count a little past the estimate (the config blob).
        $('push-overall-text').textContent = `${formatBytes(Math.min(ev.done, ev.total))} of ${formatBytes(ev.total)}`;
        return;
      }
      if (ev.event === 'identified') {
        bars.rename(ev.label, ev.diff_id);
        return;
      }
      const finished = ev.event === 'done' || ev.event === 'exists' || ev.event === 'mounted';
      bars.update({
        layer: ev.blob,
        status: ev.event,
        current: finished ? ev.size ?? ev.total : ev.done,
        total: ev.total ?? ev.size,
      });
    });
    // While compressing, a layer is named layer-N (its digest is not known yet); at the end only
    // the rows with real digests remain, so each layer shows once.
    bars.removeWhere('layer-');
    bars.finishAll();
    const digest = pick(res, 'digest', 'manifest_digest') || '';
    $('push-result').replaceChildren(
      h('span', {}, `Pushed ${res.reference} (${formatBytes(res.uploaded_bytes)} uploaded) `),
      h('span', { class: 'mono', 'data-testid': 'push-digest' }, digest));
    $('push-result').className = 'ok';
    $('push-result').dataset.state = 'done';
  } catch (e) {
    setMessage($('push-result'), e.message, 'error');
    $('push-result').dataset.state = 'error';
    offerLocalRegistry(profile);
  } finally {
    pushOp = null;
  }
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
          push();
        } catch (err) {
          setMessage($('push-result'), err.message, 'error');
        }
      },
    }, `Start the local registry at ${st.address} and push again`);
    $('push-result').append(h('div', {}, btn));
  } catch {
    // The status itself failed; the push error above already says what is wrong.
  }
}
