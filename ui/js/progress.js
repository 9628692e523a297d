// Progress of the long operations: one row per layer, an overall bar, and a phase line with the
// time elapsed. Each operation's events are typed by the declarations core generates (./types);
// the `follow*` functions below are the only code that reads them, one `switch` per event enum.
import { h, formatBytes, shortDigest } from './util.js';

/** @typedef {import('./types/PushEvent').PushEvent} PushEvent */
/** @typedef {import('./types/PushPhase').PushPhase} PushPhase */
/** @typedef {import('./types/PullEvent').PullEvent} PullEvent */
/** @typedef {import('./types/FetchEvent').FetchEvent} FetchEvent */
/** @typedef {import('./types/CopyEvent').CopyEvent} CopyEvent */
/** @typedef {import('./types/BuildEvent').BuildEvent} BuildEvent */

/**
 * @typedef {object} Row
 * @property {any} el
 * @property {any} bar
 * @property {any} label
 * @property {any} status
 * @property {string} word
 * @property {number} done
 * @property {number} total
 * @property {boolean} finished
 */

export class LayerBars {
  /**
   * @param {any} container where the rows go
   * @param {any} [overallBar] a <progress> for the whole operation
   * @param {any} [overallText] where "x of y" goes
   */
  constructor(container, overallBar = null, overallText = null) {
    this.container = container;
    this.overallBar = overallBar;
    this.overallText = overallText;
    /** @type {Map<string, Row>} */
    this.rows = new Map();
    /** The operation has ended: the overall bar stays full. */
    this.completed = false;
    this.container.replaceChildren();
    if (overallBar) overallBar.value = 0;
    if (overallText) overallText.textContent = '';
  }

  /** @param {string} id @returns {Row} */
  row(id) {
    let row = this.rows.get(id);
    if (!row) {
      const bar = h('progress', { max: 1, value: 0 });
      const label = h('span', { class: 'layer-id' }, shortDigest(id));
      const status = h('span', { class: 'layer-status' });
      const el = h('div', { class: 'layer', 'data-testid': 'layer-row', 'data-layer': id }, label, bar, status);
      row = { el, bar, label, status, word: '', done: 0, total: 0, finished: false };
      this.rows.set(id, row);
      this.container.append(el);
    }
    return row;
  }

  /**
   * Shows `word` and bytes `done` of `total` on the row `id` (total 0: no byte count).
   * @param {string} id @param {string} word @param {number} done @param {number} total
   */
  set(id, word, done, total) {
    const row = this.row(id);
    // A finished row stays finished: a layer the registry already has may still be read again
    // from the export (to learn which one it was), which changes nothing the user waits for.
    if (row.finished) return;
    Object.assign(row, { word, done, total });
    this.draw(row);
  }

  /**
   * Marks the row `id` finished; `digest` (what the registry or engine holds) replaces its label.
   * @param {string} id @param {string} word @param {string | null} [digest] @param {number | null} [size]
   */
  finish(id, word, digest = null, size = null) {
    const row = this.row(id);
    row.word = word;
    row.finished = true;
    if (size !== null) row.total = size;
    row.done = row.total;
    if (digest) {
      row.label.textContent = shortDigest(digest);
      row.el.dataset.digest = digest;
    }
    row.el.dataset.state = word;
    this.draw(row);
  }

  /**
   * The row followed as `from` is really `to`: its state moves to `to`'s row. `from` keeps a
   * row only when it is a layer in its own right (`keep`), reset to waiting.
   * @param {string} from @param {string} to @param {boolean} keep
   */
  move(from, to, keep) {
    const src = this.rows.get(from);
    if (!src) return;
    // A finished layer's row took none of the bytes: there is nothing to move.
    if (src.finished && keep) return;
    const dst = this.row(to);
    // A finished row stays finished (a settled layer read again to learn which one it was).
    if (!dst.finished) {
      Object.assign(dst, { word: src.word, done: src.done, total: src.total, finished: src.finished });
      this.draw(dst);
    }
    if (keep) {
      Object.assign(src, { word: 'waiting', done: 0, finished: false });
      this.draw(src);
    } else {
      src.el.remove();
      this.rows.delete(from);
    }
  }

  /** @param {Row} row */
  draw(row) {
    row.bar.max = row.total || 1;
    row.bar.value = row.finished ? row.total || 1 : Math.min(row.done, row.total);
    const bytes = row.total ? (row.finished ? formatBytes(row.total) : `${formatBytes(row.done)} / ${formatBytes(row.total)}`) : '';
    row.status.textContent = `${row.word} ${bytes}`.trim();
  }

  /**
   * The overall bar: `done` of `total`, never full before `complete` (the end of the operation).
   * @param {number} done @param {number} total @param {boolean} [complete]
   */
  overall(done, total, complete = false) {
    if (!this.overallBar) return;
    // One unit is held back for what follows the bytes (the manifest, the engine's load), so the
    // bar is full only when the operation is.
    this.overallBar.max = total + 1;
    this.overallBar.value = complete ? total + 1 : Math.min(done, total);
    if (this.overallText) this.overallText.textContent = `${formatBytes(Math.min(done, total))} of ${formatBytes(total)}`;
  }

  /**
   * The overall bar as core computed it (push): `permille` thousandths, `text` beside it.
   * @param {number} permille @param {string} text
   */
  showOverall(permille, text) {
    // An event that the channel delivers after the operation's answer must not empty a full bar.
    if (!this.overallBar || this.completed) return;
    this.overallBar.max = 1000;
    this.overallBar.value = permille;
    if (this.overallText) this.overallText.textContent = text;
  }

  /** Fills the overall bar: the operation has ended. */
  complete() {
    this.completed = true;
    if (this.overallBar) this.overallBar.value = this.overallBar.max;
  }

  /** Sums the rows into the overall bar, for operations without an overall event. */
  sumOverall(complete = false) {
    let done = 0;
    let total = 0;
    for (const r of this.rows.values()) {
      done += r.finished ? r.total : Math.min(r.done, r.total);
      total += r.total;
    }
    this.overall(done, total, complete);
  }
}

/** A line saying what the operation does now and for how long it has run, updated each second. */
export class PhaseLine {
  /** @param {any} el */
  constructor(el) {
    this.el = el;
    this.started = Date.now();
    this.text = '';
    this.timer = setInterval(() => this.draw(), 1000);
  }

  /** @param {string} text */
  set(text) {
    this.text = text;
    this.draw();
  }

  draw() {
    const secs = Math.floor((Date.now() - this.started) / 1000);
    this.el.textContent = this.text ? `${this.text}, ${secs} s` : '';
    this.el.dataset.phase = this.text;
  }

  /** Stops the clock; `text` (or nothing) stays. @param {string} [text] */
  stop(text = '') {
    clearInterval(this.timer);
    this.el.textContent = text;
  }
}

/** @type {Record<PushPhase, string>} */
const PUSH_PHASES = {
  checking: 'asking the registry which layers it has',
  exporting: 'engine exporting the image',
  uploading: 'compressing and uploading layers',
  engine_pushing: 'engine pushing through Slipway',
  manifest: 'writing the manifest',
};

/**
 * What the overall bar of a push says beside it: what moved, and apart what did not need to.
 * @param {Extract<PushEvent, { event: 'overall' }>} ev
 */
function pushOverallText(ev) {
  const moved = `${formatBytes(ev.moved)} of ${formatBytes(ev.to_move)} moved`;
  return ev.present ? `${moved}, ${formatBytes(ev.present)} already in the registry` : moved;
}

/**
 * Follows a push: one row per layer (by diff_id) from waiting to the registry's digest; the
 * overall bar is core's (moved bytes, full only at the end).
 * @param {LayerBars} bars @param {PhaseLine} phase
 * @returns {(ev: PushEvent) => void}
 */
export function followPush(bars, phase) {
  /** Layers the push announced; a row of one of these is kept when another's bytes leave it. */
  const layers = new Set();
  phase.set('connecting to the registry');
  return (ev) => {
    switch (ev.event) {
      case 'phase':
        phase.set(PUSH_PHASES[ev.phase]);
        break;
      case 'waiting':
        layers.add(ev.blob);
        bars.set(ev.blob, 'waiting', 0, ev.size);
        break;
      case 'compressing':
        bars.set(ev.blob, 'compressing', ev.done, ev.total);
        break;
      case 'uploading':
        bars.set(ev.blob, 'uploading', ev.done, ev.total);
        break;
      case 'identified':
        bars.move(ev.label, ev.diff_id, layers.has(ev.label));
        break;
      case 'skipped':
        // The registry's digest for it comes with the `exists` that follows.
        bars.finish(ev.blob, 'exists');
        break;
      case 'exists':
        bars.finish(ev.blob, 'exists', ev.digest);
        break;
      case 'mounted':
        bars.finish(ev.blob, `mounted from ${ev.from}`, ev.digest);
        break;
      case 'done':
        if (ev.blob !== 'config') bars.finish(ev.blob, 'done', ev.digest, ev.size);
        break;
      case 'overall':
        bars.showOverall(ev.permille, pushOverallText(ev));
        break;
      default:
        unknown(ev);
    }
  };
}

/**
 * Follows an engine pull: one row per layer (the engine's short ids).
 * @param {LayerBars} bars @param {PhaseLine} phase
 * @returns {(ev: PullEvent) => void}
 */
export function followPull(bars, phase) {
  phase.set('engine pulling');
  return (ev) => {
    switch (ev.event) {
      case 'message':
        phase.set(ev.text);
        return;
      case 'waiting':
        bars.set(ev.layer, 'waiting', 0, 0);
        break;
      case 'downloading':
        bars.set(ev.layer, 'downloading', ev.done, ev.total);
        break;
      case 'downloaded':
        bars.set(ev.layer, 'downloaded', 0, 0);
        break;
      case 'extracting':
        bars.set(ev.layer, 'extracting', ev.done, ev.total);
        break;
      case 'done':
        bars.finish(ev.layer, ev.exists ? 'exists' : 'pulled');
        break;
      default:
        unknown(ev);
    }
    bars.sumOverall();
  };
}

/**
 * Follows a fetch (Slipway pulls from the registry into the engine): one row per layer digest.
 * @param {LayerBars} bars @param {PhaseLine} phase
 * @returns {(ev: FetchEvent) => void}
 */
export function followFetch(bars, phase) {
  phase.set('downloading layers');
  return (ev) => {
    switch (ev.event) {
      case 'downloading':
        bars.set(ev.digest, 'downloading', ev.done, ev.total);
        break;
      case 'downloaded':
        bars.finish(ev.digest, 'downloaded', ev.digest, ev.size);
        break;
      case 'loading':
        phase.set('engine loading the image');
        break;
      default:
        unknown(ev);
    }
    bars.sumOverall();
  };
}

/**
 * Follows a registry-to-registry copy: one row per blob digest.
 * @param {LayerBars} bars
 * @returns {(ev: CopyEvent) => void}
 */
export function followCopy(bars) {
  return (ev) => {
    switch (ev.event) {
      case 'exists':
        bars.finish(ev.digest, 'exists', ev.digest);
        break;
      case 'mounted':
        bars.finish(ev.digest, 'mounted', ev.digest);
        break;
      case 'copied':
        bars.finish(ev.digest, 'copied', ev.digest, ev.size);
        break;
      case 'manifest':
        bars.finish(ev.digest, 'manifest', ev.digest);
        break;
      default:
        unknown(ev);
    }
  };
}

/**
 * tsc proves every variant is handled above (`ev` is `never` here); an event from a newer core
 * is ignored rather than breaking the page.
 * @param {never} ev
 */
/**
 * Follows a build: the engine's output, handed to `write` as it arrives.
 * @param {(text: string) => void} write
 * @returns {(ev: BuildEvent) => void}
 */
export function followBuild(write) {
  return (ev) => {
    switch (ev.event) {
      case 'output':
        write(ev.text);
        break;
      default:
        unknown(ev);
    }
  };
}

function unknown(ev) {
  console.warn('progress event this page does not know', ev);
}
