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
}

/** Asks core for the plan of a delete and shows it; nothing is deleted until Delete. */
export async function plan(what) {
  if (!ctx.repo()) return;
  pending = null;
  reveal($('delete-dialog'), true);
  $('delete-text').textContent = 'Planning…';
  $('delete-plan').replaceChildren();
  $('delete-frees').textContent = '';
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
  frees.textContent = `Frees ${formatBytes(p.frees)} after garbage collection${p.complete ? '' : ' (at most: the registry hides its catalog)'}.`
    + (p.empties_repository ? ` ${p.empties_repository}` : '');
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
    out.textContent = lines.join('\n');
    out.dataset.freed = String(dryRun ? r.bytes : r.freed);
    out.dataset.kind = dryRun ? 'dry' : 'real';
    if (!dryRun) await ctx.reload();
  } catch (e) {
    out.textContent = e.message;
  }
}
