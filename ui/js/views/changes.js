// The Workshop's Changes panel: the changes as a folder tree (js/change_tree.js) with counts and
// sizes per folder, chips with the count of each kind, and a filter box. It only draws; the
// workshop view fetches the changes and hands them over.
import { buildTree, countKinds, matches, isFolder } from '../change_tree.js';
import { $, h, formatBytes } from '../util.js';

/** @typedef {import('../types/ChangeDto').ChangeDto} ChangeDto */

/** Up to this many changes shown, every folder starts open; above it only the top level shows. */
const OPEN_ALL_BELOW = 200;

const LETTER = { added: 'A', changed: 'C', deleted: 'D' };
const KIND_WORD = { added: 'added', changed: 'changed', deleted: 'deleted' };

/** @type {ChangeDto[]} */
let all = [];
/** Folders the user opened or closed, by path, so a refresh after each command keeps them so. */
const opened = new Map();
let filterTimer = 0;

export function init() {
  $('changes-filter').addEventListener('input', () => {
    clearTimeout(filterTimer);
    // One redraw after the user pauses, not one per key, for thousands of rows.
    filterTimer = window.setTimeout(draw, 120);
  });
}

/** Shows `changes` (sorted by path), keeping the filter the user typed. */
export function show(changes) {
  all = changes;
  draw();
}

/** Empties the panel, for a new workshop. */
export function clear() {
  opened.clear();
  show([]);
}

function draw() {
  const filter = $('changes-filter').value.trim();
  const shown = filter ? all.filter((c) => matches(c, filter)) : all;
  const root = buildTree(shown);
  const totalBytes = root.bytes;
  $('changes-count').textContent = filter
    ? `${shown.length} of ${all.length} changes · ${formatBytes(totalBytes) || '0 B'}`
    : `${all.length} changes · ${formatBytes(totalBytes) || '0 B'}`;
  $('changes-count').dataset.count = String(shown.length);
  const kinds = countKinds(all);
  $('changes-kinds').replaceChildren(
    ...Object.keys(LETTER).map((kind) =>
      h('button', {
        class: `chip kind-${kind}`,
        'data-testid': `changes-kind-${kind}`,
        'data-count': kinds[kind],
        title: `Show only ${KIND_WORD[kind]} paths`,
        onclick: () => {
          $('changes-filter').value = `${LETTER[kind]}: ${filter.replace(/\b[acd]:\s*/gi, '')}`.trim();
          draw();
        },
      }, `${LETTER[kind]} ${kinds[kind]}`)),
  );
  const open = shown.length <= OPEN_ALL_BELOW;
  // replaceChildren writes a null argument as the text "null", so the note is added only when due.
  $('changes-body').replaceChildren(
    ...root.children.map((n) => drawNode(n, open)),
    ...(shown.length ? [] : [h('p', { class: 'muted' }, all.length ? 'No change matches the filter.' : 'No changes yet.')]),
  );
}

/** A folder as a `<details>` with its count and bytes, a file as one row. */
function drawNode(n, open) {
  const kind = n.change ? h('span', { class: `kind kind-${n.change.kind}`, title: KIND_WORD[n.change.kind] }, LETTER[n.change.kind]) : h('span', { class: 'kind' }, '');
  if (!isFolder(n)) {
    return h('div', { class: 'change-row', 'data-testid': 'change-row', 'data-path': n.path, 'data-kind': n.change?.kind },
      kind, h('span', { class: 'name mono', title: n.path }, n.name),
      h('span', { class: 'size' }, formatBytes(n.change?.size)));
  }
  const isOpen = opened.get(n.path) ?? open;
  const details = h('details', { class: 'change-folder', 'data-testid': 'change-folder', 'data-path': n.path, 'data-count': n.count, open: isOpen },
    h('summary', {},
      kind, h('span', { class: 'name mono', title: n.path }, `${n.name}/`),
      h('span', { class: 'count muted' }, n.count ? `${n.count}` : ''),
      h('span', { class: 'size' }, n.bytes ? formatBytes(n.bytes) : '')));
  // Closed folders draw their content when first opened, so thousands of changes cost only
  // the rows someone looks at.
  const fill = () => details.append(h('div', { class: 'children' }, n.children.map((c) => drawNode(c, open))));
  if (isOpen) fill();
  details.addEventListener('toggle', () => {
    opened.set(n.path, details.open);
    if (details.open && details.children.length === 1) fill();
  });
  return details;
}
