// Workshop -> Replay on…: the workshop's successful commands run again, one by one, in a new
// workshop from another image, stopping at the first that fails (the core's replay). Each command
// gets a row with its exit code; the output of the running one streams below.
import * as api from '../api.js';
import { describe } from '../hints.js';
import { $, appendTail, h, reveal, setMessage } from '../util.js';

/** @typedef {import('../types/ReplayEvent').ReplayEvent} ReplayEvent */
/** @typedef {import('../types/ContainerDto').ContainerDto} ContainerDto */

let replayOp = null;
/** @type {ContainerDto | null} */
let made = null;

/**
 * @param {{ container: () => string | null, images: () => string[], onOpen: (c: ContainerDto) => void }} hooks
 *   `container`: the attached workshop; `images`: the names to offer as the new base;
 *   `onOpen`: attaches the replay's workshop.
 */
export function init({ container, images, onOpen }) {
  $('replay-open').addEventListener('click', () => {
    const sel = $('replay-image');
    const keep = sel.value;
    sel.replaceChildren(...images().map((n) => h('option', { value: n }, n)));
    if (keep) sel.value = keep;
    reveal($('replay-dialog'), true);
    $('replay-dialog').scrollIntoView();
  });
  $('replay-close').addEventListener('click', () => reveal($('replay-dialog'), false));
  $('replay-start').addEventListener('click', () => start(container()));
  $('replay-cancel').addEventListener('click', () => replayOp && api.cancel(replayOp).catch(() => {}));
  $('replay-attach').addEventListener('click', () => made && onOpen(made));
}

/** @param {string | null} source */
async function start(source) {
  const result = $('replay-result');
  if (replayOp) return;
  if (!source) {
    setMessage(result, 'Start or attach the workshop to replay first.', 'error');
    return;
  }
  const image = $('replay-image').value;
  if (!image) {
    setMessage(result, 'Pick the image to replay the commands on.', 'error');
    return;
  }
  const steps = $('replay-steps');
  const out = $('replay-output');
  steps.replaceChildren();
  out.textContent = '';
  made = null;
  reveal($('replay-attach'), false);
  setMessage(result, `Starting a workshop from ${image}…`);
  result.dataset.state = 'running';
  replayOp = api.newOpId('replay');
  $('replay-start').disabled = true;
  /** @type {HTMLElement[]} */
  const rows = [];
  /** @param {ReplayEvent} ev */
  const onEvent = (ev) => {
    switch (ev.event) {
      case 'started':
        made = ev.container;
        setMessage(result, `Replaying ${ev.commands} command(s) in ${ev.container.short_id} from ${image}…`);
        break;
      case 'command': {
        const row = h('li', { 'data-testid': 'replay-step', 'data-state': 'running' },
          h('span', { class: 'exit' }, 'running'), ' ', h('code', {}, ev.command));
        rows[ev.index] = row;
        steps.append(row);
        out.textContent = '';
        break;
      }
      case 'output':
        appendTail(out, ev.chunk.text);
        break;
      case 'finished': {
        const row = rows[ev.index];
        if (!row) break;
        row.dataset.state = ev.exit_code === 0 ? 'ok' : 'failed';
        row.dataset.exitCode = String(ev.exit_code);
        const badge = row.querySelector('.exit');
        if (badge) {
          badge.textContent = `exit ${ev.exit_code}`;
          badge.className = `exit ${ev.exit_code === 0 ? 'ok' : 'error'}`;
        }
        break;
      }
    }
  };
  try {
    const outcome = await api.replayWorkshop(source, image, replayOp, onEvent);
    made = outcome.container;
    if (outcome.failed) {
      const f = outcome.failed;
      setMessage(result,
        `Stopped at command ${f.index + 1} of ${outcome.total}, which exited ${f.exit_code} on ${image}: ` +
        `${f.command}. The new workshop ${made.short_id} keeps what ran before it; open it to fix the command there.`,
        'error');
      result.dataset.state = 'failed';
    } else {
      setMessage(result, `All ${outcome.total} command(s) ran on ${image} in workshop ${made.short_id}.`, 'ok');
      result.dataset.state = 'done';
    }
    reveal($('replay-attach'), true);
  } catch (e) {
    setMessage(result, describe(e), 'error');
    result.dataset.state = 'error';
    // A replay cancelled or failed after its workshop started still leaves that workshop to open.
    reveal($('replay-attach'), made !== null);
  } finally {
    replayOp = null;
    $('replay-start').disabled = false;
  }
}
