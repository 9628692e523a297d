// Small DOM and formatting helpers shared by the views.
import { describe } from './hints.js';

/**
 * The element with `id` in index.html. Typed `any` on purpose: tsc cannot see the HTML, so which
 * element (input, select, progress) an id names is the view's knowledge, not the type checker's.
 * @param {string} id
 * @returns {any}
 */
export const $ = (id) => document.getElementById(id);

/**
 * Creates an element with properties, attributes (data-*, aria-*) and children.
 * @param {string} tag
 * @param {Record<string, any>} [props]
 * @param {...any} children
 * @returns {any}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k.startsWith('data-') || k.startsWith('aria-')) el.setAttribute(k, v);
    else if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function reveal(el, visible = true) {
  el.classList.toggle('hidden', !visible);
}

/** Shows the core's error message (never a stack trace) in `el`, or hides it when err is null. */
export function showError(el, err) {
  if (!err) {
    el.textContent = '';
    reveal(el, false);
    return;
  }
  el.textContent = describe(err);
  el.dataset.code = err.code;
  reveal(el, true);
}

export function setMessage(el, text, kind = 'info') {
  el.textContent = text;
  el.className = kind === 'error' ? 'error' : kind === 'ok' ? 'ok' : 'muted';
  el.dataset.kind = kind;
}

/**
 * Appends `text` to a streamed output box, keeping only its last `max` characters (the tail,
 * where a failed step says why, and never so much that appending slows the page), scrolled down.
 * @param {HTMLElement} el @param {string} text @param {number} [max]
 */
export function appendTail(el, text, max = 256 * 1024) {
  const all = (el.textContent ?? '') + text;
  el.textContent = all.length > max ? all.slice(-max) : all;
  el.scrollTop = el.scrollHeight;
}

export function formatBytes(n) {
  if (n === undefined || n === null || Number.isNaN(Number(n))) return '';
  n = Number(n);
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

export function formatDate(v) {
  if (v === undefined || v === null || v === '') return '';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? String(v) : d.toISOString().replace('T', ' ').slice(0, 19);
}

export function shortDigest(d) {
  if (!d) return '';
  const s = String(d);
  const i = s.indexOf(':');
  return i >= 0 ? `${s.slice(0, i + 1)}${s.slice(i + 1, i + 13)}` : s.slice(0, 12);
}
