// The workshop's terminal: xterm.js (ui/vendor/xterm) showing a shell in the container, as
// `docker exec -it` would. Keys go to the shell as typed; its output, the commands it reports
// (already in the workshop log) and its exit come from core as TerminalEvents.
import * as api from '../api.js';

/** @typedef {import('../types/TerminalEvent').TerminalEvent} TerminalEvent */

/**
 * What the workshop view hears from the terminal.
 * @typedef {object} Listener
 * @property {(command: string, exitCode: number) => void} onRecorded a command finished
 * @property {(state: string, text: string, code?: number | null) => void} onState running, exited, failed
 */

/** Lines kept above the screen: enough to scroll back through a package install, bounded so a
 * long session never grows the page's memory without end. */
const SCROLLBACK = 5000;
/** Room for the vertical scrollbar xterm draws inside its element. */
const SCROLLBAR_PX = 14;

/** @type {XtermTerminal | null} */
let term = null;
/** @type {HTMLElement | null} */
let host = null;
/** The open session: its id, the container, and what the view wants to hear. */
let session = null;
/** Typed bytes waiting while an earlier write is on its way, so keys arrive in order. */
let pending = '';
let sending = false;
let resizeTimer = 0;

/** Creates the terminal in `element` once; later sessions reuse it. */
function ensureTerminal(element) {
  if (term) return term;
  host = element;
  // The DOM renderer keeps the screen's text in the page (selectable, readable by assistive
  // technology and by the e2e tests); it needs style-src 'unsafe-inline' in the CSP.
  term = new window.Terminal({
    rendererType: 'dom',
    scrollback: SCROLLBACK,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
    fontSize: 13,
    cursorBlink: true,
    theme: { background: '#0d1117', foreground: '#e6edf3', cursor: '#e6edf3' },
  });
  term.open(element);
  term.on('data', (data) => send(data));
  term.on('resize', ({ cols, rows }) => {
    // Dragging a window edge gives many sizes; the shell needs only the last.
    clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => {
      if (session?.id) api.resizeTerminal(session.id, rows, cols).catch(() => {});
    }, 100);
  });
  new ResizeObserver(() => fit()).observe(element);
  return term;
}

/** Sizes the terminal to its pane: as many cells as fit. A hidden pane (0 px) keeps the size. */
function fit() {
  if (!term || !host || host.clientWidth === 0 || host.clientHeight === 0) return;
  const cell = term._core.renderer.dimensions;
  if (!cell.actualCellWidth || !cell.actualCellHeight) return;
  const style = getComputedStyle(host);
  const padX = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  const padY = parseFloat(style.paddingTop) + parseFloat(style.paddingBottom);
  const cols = Math.max(20, Math.floor((host.clientWidth - padX - SCROLLBAR_PX) / cell.actualCellWidth));
  const rows = Math.max(5, Math.floor((host.clientHeight - padY) / cell.actualCellHeight));
  if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
}

/** Sends typed bytes in order: one call at a time, with what was typed meanwhile joined. */
async function send(data) {
  if (!session?.id) return;
  pending += data;
  if (sending) return;
  sending = true;
  try {
    while (pending && session?.id) {
      const chunk = pending;
      pending = '';
      await api.terminalInput(session.id, chunk);
    }
  } catch (e) {
    session?.listener.onState('failed', e.message);
  } finally {
    sending = false;
    pending = '';
  }
}

/** base64 -> bytes; the output need not be UTF-8 cut at a character, so a streaming decoder
 * per session joins characters split between two batches. */
function bytes(b64) {
  const text = atob(b64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) out[i] = text.charCodeAt(i);
  return out;
}

/**
 * Opens a shell in `container` on the terminal in `element`, closing the one before.
 * @param {HTMLElement} element
 * @param {string} container
 * @param {Listener} listener
 */
export async function open(element, container, listener) {
  // Said before anything is awaited, so nobody reads the old shell's state as the new one's.
  const closing = close();
  listener.onState('starting', 'starting a shell…');
  await closing;
  const t = ensureTerminal(element);
  t.reset();
  fit();
  const decoder = new TextDecoder('utf-8');
  const mine = { id: null, ended: false, container, listener };
  session = mine;
  /** @param {TerminalEvent} ev */
  const onEvent = (ev) => {
    if (session !== mine) return;
    switch (ev.event) {
      case 'output':
        t.write(decoder.decode(bytes(ev.data), { stream: true }));
        break;
      case 'recorded':
        listener.onRecorded(ev.command, ev.exit_code);
        break;
      case 'exit':
        t.write(decoder.decode());
        Object.assign(mine, { id: null, ended: true });
        listener.onState('exited', `the shell exited${ev.code === null ? '' : ` with code ${ev.code}`}`, ev.code);
        break;
      case 'failed':
        Object.assign(mine, { id: null, ended: true });
        listener.onState('failed', ev.error.message);
        break;
    }
  };
  try {
    const [rows, cols] = [t.rows, t.cols];
    const id = await api.openTerminal(container, rows, cols, onEvent);
    // A session that ended before its id arrived stays ended.
    if (mine.ended) return;
    mine.id = id;
    // The pane may have been fitted while the shell started; resizes without an id were dropped.
    if (t.rows !== rows || t.cols !== cols) api.resizeTerminal(id, t.rows, t.cols).catch(() => {});
    listener.onState('running', 'shell running');
    t.focus();
  } catch (e) {
    if (session === mine) session = null;
    listener.onState('failed', e.message);
    throw e;
  }
}

/** Closes the open shell, if any (it is killed with what it runs). Its state line says so at
 * once: keys typed from now on go nowhere, and nothing may take the old "running" for a shell. */
export async function close() {
  const old = session;
  session = null;
  if (!old) return;
  old.listener.onState('closed', 'no shell');
  if (old.id) await api.closeTerminal(old.id).catch(() => {});
}

/** Puts `text` on the shell's command line without running it, and focuses the terminal. */
export function typeText(text) {
  if (!term) return;
  send(text);
  term.focus();
}
