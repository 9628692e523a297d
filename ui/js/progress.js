// Per-layer progress bars for pull, push and copy. Events come from the core through a Channel;
// each names a layer and carries bytes done/total and a status word.
import { h, formatBytes, pick, shortDigest } from './util.js';

export class LayerBars {
  constructor(container, overallBar = null, overallText = null) {
    this.container = container;
    this.overallBar = overallBar;
    this.overallText = overallText;
    this.rows = new Map();
    this.container.replaceChildren();
    if (overallBar) overallBar.value = 0;
    if (overallText) overallText.textContent = '';
  }

  /** Applies one progress event; returns true when it was a per-layer event. */
  update(ev) {
    const layer = pick(ev, 'layer', 'digest', 'id', 'layer_id', 'blob');
    if (layer === undefined) return false;
    let row = this.rows.get(layer);
    if (!row) {
      const bar = h('progress', { max: 1, value: 0 });
      const label = h('span', { class: 'layer-id' }, shortDigest(layer));
      const status = h('span', { class: 'layer-status' });
      const el = h('div', { class: 'layer', 'data-testid': 'layer-row', 'data-layer': layer }, label, bar, status);
      row = { el, bar, status, current: 0, total: 0 };
      this.rows.set(layer, row);
      this.container.append(el);
    }
    const current = Number(pick(ev, 'current', 'bytes_done', 'done', 'sent', 'progress') ?? row.current);
    const total = Number(pick(ev, 'total', 'size', 'bytes_total') ?? row.total);
    const statusWord = pick(ev, 'status', 'state', 'kind', 'phase') || '';
    row.current = Number.isFinite(current) ? current : row.current;
    row.total = Number.isFinite(total) ? total : row.total;
    const finished = /done|complete|exists|skipp|mounted|already|copied/i.test(String(statusWord));
    // A finished step may carry no byte count (mounted, already exists): it is all there.
    if (finished && row.total > 0) row.current = row.total;
    if (row.total > 0) {
      row.bar.max = row.total;
      row.bar.value = finished ? row.total : Math.min(row.current, row.total);
    } else if (finished) {
      row.bar.max = 1;
      row.bar.value = 1;
    }
    row.status.textContent = `${statusWord} ${row.total ? `${formatBytes(row.current)} / ${formatBytes(row.total)}` : ''}`.trim();
    this.refreshOverall();
    return true;
  }

  refreshOverall() {
    if (!this.overallBar) return;
    let cur = 0;
    let tot = 0;
    for (const r of this.rows.values()) {
      cur += Math.min(r.current, r.total || r.current);
      tot += r.total;
    }
    this.overallBar.max = tot || 1;
    this.overallBar.value = Math.min(cur, tot || 1);
    if (this.overallText) this.overallText.textContent = `${formatBytes(cur)} of ${formatBytes(tot)}`;
  }

  /** Gives the row known as `from` its real name `to` (or drops it when `to` has a row already). */
  rename(from, to) {
    const row = this.rows.get(from);
    if (!row) return;
    this.rows.delete(from);
    if (this.rows.has(to)) {
      row.el.remove();
    } else {
      row.el.dataset.layer = to;
      row.el.querySelector('.layer-id').textContent = shortDigest(to);
      this.rows.set(to, row);
    }
    this.refreshOverall();
  }

  /** Removes rows whose layer name starts with `prefix` (placeholders such as push's `layer-N`). */
  removeWhere(prefix) {
    for (const [k, r] of [...this.rows]) {
      if (String(k).startsWith(prefix)) {
        r.el.remove();
        this.rows.delete(k);
      }
    }
  }

  finishAll() {
    for (const r of this.rows.values()) {
      r.bar.max = r.total || 1;
      r.bar.value = r.total || 1;
      r.current = r.total;
    }
    this.refreshOverall();
  }
}
