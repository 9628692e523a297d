// Registry housekeeping in the browser: every delete shows core's plan first (each tag and
// manifest that goes, what stays, the bytes garbage collection then frees) and runs only that plan;
// garbage collection of the managed registry with the bytes freed, or for another registry the
// command its operator has to run.
import * as api from '../api.js';
import { $, h, reveal, formatBytes, shortDigest } from '../util.js';

let ctx = null;
let pending = null;

export function init(context) {
  ctx = context;
  $('delete-cancel').addEventListener('click', () => reveal($('delete-dialog'), false));
  $('delete-confirm').addEventListener('click', confirm);
  $('gc-dry').addEventListener('click', () => gc(true));
  $('gc-run').addEventListener('click', () => gc(false));
  $('tags-usage').addEventListener('click', usage);
}

/** The repository's ledger: per tag, the bytes only it holds (what deleting it frees) and shared. */
async function usage() {
  if (!ctx.repo()) return;
  const box = $('usage');
  reveal(box, true);
  box.textContent = 'Counting…';
  try {
    const u = await api.usage(ctx.profile(), ctx.repo());
    box.replaceChildren(
      h('h3', {}, `Space used by ${u.scope}`),
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Tag'), h('th', {}, 'Size'), h('th', {}, 'Deleting it frees'), h('th', {}, 'Shared'))),
        h('tbody', {}, ...u.entries.map((e) =>
          h('tr', { 'data-testid': 'usage-row', 'data-tag': e.name, 'data-frees': String(e.frees) },
            h('td', {}, e.name), h('td', {}, formatBytes(e.bytes)), h('td', {}, formatBytes(e.frees)), h('td', {}, formatBytes(e.shared)))))),
      h('p', { 'data-testid': 'usage-total', 'data-frees': String(u.frees) },
        `The repository: ${formatBytes(u.bytes)}; deleting it frees ${u.complete ? '' : 'at most '}${formatBytes(u.frees)}, ${formatBytes(u.shared)} shared with other repositories.`
        + (u.complete || capped(u.coverage) ? '' : ' The registry hides its catalog, so sharing with other repositories is unknown.')),
      coverageNote(u.coverage));
  } catch (e) {
    box.textContent = e.message;
  }
}

/** @param {import('../types/Coverage').Coverage} c */
const capped = (c) => c.counted < c.listed;

/**
 * How many of the registry's repositories the figures took into account. Blobs shared only with
 * a repository that was not read look held alone, so a "frees" is then at most what garbage
 * collection gives back.
 * @param {import('../types/Coverage').Coverage} c
 */
function coverageNote(c) {
  const text = capped(c)
    ? `Counted ${c.counted} of ${c.listed} repositories (in name order through ${c.through ?? 'none'}); `
      + `blobs shared only with the ${c.listed - c.counted} not read count as freed, so the figure is at most what garbage collection frees.`
    : `Counted all ${c.listed} ${c.listed === 1 ? 'repository' : 'repositories'} of the registry.`;
  return h('p', {
    'data-testid': 'coverage', 'data-counted': String(c.counted), 'data-listed': String(c.listed), class: 'muted',
  }, text);
}

/** Asks core for the plan of a delete and shows it; nothing is deleted until Delete. */
export async function plan(what) {
  if (!ctx.repo()) return;
  pending = null;
  reveal($('delete-dialog'), true);
  $('delete-text').textContent = 'Planning…';
  $('delete-plan').replaceChildren();
  $('delete-frees').textContent = '';
  $('delete-coverage').replaceChildren();
  $('delete-confirm').disabled = true;
  try {
    const p = await api.deletePlan(ctx.profile(), ctx.repo(), what);
    pending = p;
    render(p);
  } catch (e) {
    $('delete-text').textContent = e.message;
  }
  $('delete-dialog').scrollIntoView();
}

function render(p) {
  $('delete-text').textContent = p.tags.length
    ? `Delete ${p.tags.length} tag${p.tags.length === 1 ? '' : 's'} of ${p.repository}:`
    : `Nothing in ${p.repository} matches.`;
  $('delete-plan').replaceChildren(...p.manifests.map((m) =>
    h('li', { 'data-testid': 'plan-item', 'data-digest': m.digest },
      m.stay.length
        ? `tag${m.tags.length === 1 ? '' : 's'} ${m.tags.join(', ')} (${shortDigest(m.digest)} stays, tagged ${m.stay.join(', ')})`
        : `manifest ${shortDigest(m.digest)} with tag${m.tags.length === 1 ? '' : 's'} ${m.tags.join(', ')}`)));
  const frees = $('delete-frees');
  frees.dataset.frees = String(p.frees);
  frees.textContent = `Frees ${p.complete ? '' : 'at most '}${formatBytes(p.frees)} after garbage collection`
    + `${p.complete || capped(p.coverage) ? '' : ' (the registry hides its catalog)'}.`
    + (p.empties_repository ? ` ${p.empties_repository}` : '');
  // Said only when the cap left repositories unread: a complete count needs no footnote here.
  $('delete-coverage').replaceChildren(...(capped(p.coverage) ? [coverageNote(p.coverage)] : []));
  $('delete-confirm').disabled = !p.tags.length && !p.manifests.length;
}

async function confirm() {
  if (!pending) return;
  $('delete-confirm').disabled = true;
  try {
    await api.executeDelete(ctx.profile(), pending);
    pending = null;
    reveal($('delete-dialog'), false);
    await ctx.reload();
  } catch (e) {
    $('delete-text').textContent = e.message;
    $('delete-confirm').disabled = false;
  }
}

async function gc(dryRun) {
  const out = $('gc-result');
  reveal(out, true);
  delete out.dataset.freed;
  if (!ctx.managed()) {
    try {
      out.textContent = await api.gcInstructions(ctx.profile());
    } catch (e) {
      out.textContent = e.message;
    }
    return;
  }
  out.textContent = dryRun ? 'Looking…' : 'Stopping the registry, collecting, starting it again…';
  try {
    const r = await api.localRegistryGc(dryRun);
    const lines = r.blobs.map((b) => `${dryRun ? 'would delete' : 'deleted'} ${shortDigest(b.digest)} ${formatBytes(b.size)}`);
    lines.push(dryRun
      ? `Would free ${formatBytes(r.bytes)} (${r.blobs.length} blobs).`
      : `Freed ${formatBytes(r.freed)} on disk (${r.blobs.length} blobs).`);
    lines.push(`Collected by ${r.backend}.`);
    out.textContent = lines.join('\n');
    out.dataset.freed = String(dryRun ? r.bytes : r.freed);
    out.dataset.kind = dryRun ? 'dry' : 'real';
    if (!dryRun) await ctx.reload();
  } catch (e) {
    out.textContent = e.message;
  }
}
