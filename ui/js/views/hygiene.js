// The hygiene check in the Workshop's commit bar: the junk a commit would keep, with its bytes
// and one Clean button, and the likely secrets beside the commit buttons. Core finds both
// (crates/core/src/hygiene.rs); this only asks and draws.
import * as api from '../api.js';
import { $, h, formatBytes, showError } from '../util.js';

const WHAT = {
  apt_lists: 'apt package lists',
  apt_archives: 'apt archives and caches',
  pip_cache: 'pip cache',
  npm_cache: 'npm cache',
  tmp: 'temporary files',
  shell_history: 'shell history',
};

/** Checks `container` (with the commit dialog's ENV lines) and draws the result. */
export async function check(container, env) {
  if (!container) return;
  try {
    draw(container, await api.workshopHygiene(container, env));
  } catch (e) {
    showError($('ws-error'), e);
  }
}

/** Empties the bar, for a new workshop. */
export function clear() {
  $('hygiene').replaceChildren();
  for (const id of ['secrets-warn', 'commit-secrets']) {
    $(id).textContent = '';
    $(id).classList.add('hidden');
  }
}

/** @param {import('../types/HygieneDto').HygieneDto} report */
function draw(container, report) {
  const box = $('hygiene');
  if (!report.junk.length) {
    box.replaceChildren();
  } else {
    const clean = h('button', {
      'data-testid': 'hygiene-clean',
      title: 'Removes exactly these paths in the container (rm -rf) before you commit',
      onclick: async () => {
        clean.disabled = true;
        clean.textContent = 'Cleaning…';
        try {
          const outcome = await api.workshopClean(container);
          box.dataset.cleaned = String(outcome.removed.length);
          // The changes panel shows what is left; the check runs again with it.
          $('changes-refresh').click();
        } catch (e) {
          showError($('ws-error'), e);
          clean.disabled = false;
          clean.textContent = 'Clean';
        }
      },
    }, 'Clean');
    box.replaceChildren(
      h('div', { class: 'row' },
        h('strong', { 'data-testid': 'hygiene-bytes', 'data-bytes': report.junk_bytes },
          `Junk a commit would keep: ${formatBytes(report.junk_bytes) || '0 B'}`),
        h('span', { class: 'spacer' }), clean),
      h('ul', {}, report.junk.map((j) =>
        h('li', { 'data-testid': 'hygiene-junk', 'data-kind': j.kind, title: j.paths.join('\n') },
          `${WHAT[j.kind] ?? j.kind}: ${formatBytes(j.bytes) || '0 B'} in ${j.files} path${j.files === 1 ? '' : 's'}`))),
    );
  }
  const secrets = report.secrets;
  const text = secrets.length
    ? `Likely secret${secrets.length === 1 ? '' : 's'}: ${secrets.map((s) => `${s.what} (${s.reason})`).join('; ')}. Anyone who can pull the image can read ${secrets.length === 1 ? 'it' : 'them'}.`
    : '';
  for (const id of ['secrets-warn', 'commit-secrets']) {
    $(id).textContent = text;
    $(id).dataset.count = String(secrets.length);
    $(id).classList.toggle('hidden', !secrets.length);
  }
}
