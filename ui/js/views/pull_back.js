// The way back from a registry: "Pull into engine" through core's fetch (the profile's HTTP, CA
// and credentials apply, so a registry the engine refuses still works), per-layer progress, and
// the pull commands to copy. The browser's tag details and Images -> Pull both use it.
import * as api from '../api.js';
import { describe } from '../hints.js';
import { LayerBars, PhaseLine, followFetch } from '../progress.js';
import { h, setMessage } from '../util.js';

let fetchOp = null;

/**
 * Pulls `path` (repo:tag or repo@digest) from `profile`'s registry into the engine, drawing
 * progress into `layers`, `phaseEl` and `resultEl`; resolves to whether it worked.
 * @param {string} profile @param {string} path @param {any} layers @param {any} phaseEl @param {any} resultEl
 * @returns {Promise<boolean>}
 */
export async function fetchInto(profile, path, layers, phaseEl, resultEl) {
  const bars = new LayerBars(layers);
  const phase = new PhaseLine(phaseEl);
  setMessage(resultEl, '');
  resultEl.dataset.state = 'running';
  fetchOp = api.newOpId('fetch');
  try {
    const res = await api.registryFetch(profile, path, fetchOp, followFetch(bars, phase));
    phase.stop();
    bars.sumOverall(true);
    setMessage(resultEl, `Pulled ${res.reference} (${res.digest}) into the engine.`, 'ok');
    resultEl.dataset.state = 'done';
    return true;
  } catch (e) {
    phase.stop();
    setMessage(resultEl, describe(e), 'error');
    resultEl.dataset.state = 'error';
    return false;
  } finally {
    fetchOp = null;
  }
}

/** Cancels the running pull into the engine, if any. */
export function cancelFetch() {
  if (fetchOp) api.cancel(fetchOp).catch(() => {});
}

/**
 * A read-only field holding a command and a button that copies it.
 * @param {string} testid @param {string} label @param {string} command
 */
function copyField(testid, label, command) {
  const input = h('input', { readOnly: true, value: command, class: 'mono', 'data-testid': testid });
  const btn = h('button', {
    'data-testid': `${testid}-copy`,
    onclick: async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(command);
      } catch {
        // Without clipboard permission the selected text can still be copied by hand.
        document.execCommand('copy');
      }
      btn.textContent = 'Copied';
      setTimeout(() => { btn.textContent = label; }, 2000);
    },
  }, label);
  return h('div', { class: 'row' }, input, btn);
}

/**
 * The panel under a tag's details: Pull into engine, and the pull commands by tag and by digest.
 * @param {string} profile @param {string} repo @param {string} tag @param {string} digest
 */
export function pullBackPanel(profile, repo, tag, digest) {
  const layers = h('div', { class: 'layers', 'data-testid': 'fetch-layers' });
  const phase = h('div', { class: 'muted', 'data-testid': 'fetch-phase' });
  const result = h('div', { 'data-testid': 'fetch-result' });
  const commands = h('div', { 'data-testid': 'pull-commands' });
  const pullBtn = h('button', {
    class: 'primary',
    'data-testid': 'fetch-start',
    onclick: async () => {
      pullBtn.disabled = true;
      await fetchInto(profile, `${repo}:${tag}`, layers, phase, result);
      pullBtn.disabled = false;
    },
  }, 'Pull into engine');
  const cancelBtn = h('button', { 'data-testid': 'fetch-cancel', onclick: cancelFetch }, 'Cancel');
  api.pullCommands(profile, repo, tag, digest).then(
    (c) => commands.replaceChildren(
      copyField('pull-command-tag', 'Copy pull command', c.by_tag),
      copyField('pull-command-digest', 'Copy pull command (digest)', c.by_digest)),
    (e) => setMessage(commands, describe(e), 'error'));
  return h('div', { class: 'card', 'data-testid': 'pull-back' },
    h('h4', {}, 'Bring it back'),
    h('div', { class: 'row' }, pullBtn, cancelBtn),
    phase, layers, result, commands);
}
