// The Workshop's changes as a tree grouped by directory, with the number of changes and the bytes
// of files under each folder. Pure (no DOM, no IPC), so node's test runner checks it
// (ui/tests/change_tree.test.mjs) and the view only draws what it returns.

/** @typedef {import('./types/ChangeDto').ChangeDto} ChangeDto */

/**
 * One path in the tree. `change` is the engine's entry for the path itself, if it has one (a
 * folder that only holds changes has none); `count` and `bytes` cover everything below it.
 * @typedef {{ name: string, path: string, change: ChangeDto | null, children: TreeNode[],
 *   count: number, bytes: number, kinds: KindCounts }} TreeNode
 * @typedef {{ added: number, changed: number, deleted: number }} KindCounts
 */

/** How many changes of each kind `changes` holds. */
export function countKinds(changes) {
  /** @type {KindCounts} */
  const kinds = { added: 0, changed: 0, deleted: 0 };
  for (const c of changes) kinds[c.kind] += 1;
  return kinds;
}

/**
 * Whether `change` passes `filter`: every word of the filter must occur in its path (case
 * ignored), and a word `A:`, `C:` or `D:` keeps that kind only.
 */
export function matches(change, filter) {
  const path = change.path.toLowerCase();
  for (const word of filter.toLowerCase().split(/\s+/).filter(Boolean)) {
    const kind = { 'a:': 'added', 'c:': 'changed', 'd:': 'deleted' }[word];
    if (kind ? change.kind !== kind : !path.includes(word)) return false;
  }
  return true;
}

/**
 * The tree of `changes` (absolute paths). Children are sorted folders first, then by name
 * (numbers by value); a
 * folder's counts include every change below it but not its own entry.
 * @param {ChangeDto[]} changes
 * @returns {TreeNode}
 */
export function buildTree(changes) {
  const root = node('/', '/');
  /** @type {Map<string, TreeNode>} */
  const byPath = new Map([['/', root]]);
  for (const change of changes) {
    const parts = change.path.split('/').filter(Boolean);
    let parent = root;
    let path = '';
    const ancestors = [root];
    for (const part of parts) {
      path += `/${part}`;
      let next = byPath.get(path);
      if (!next) {
        next = node(part, path);
        byPath.set(path, next);
        parent.children.push(next);
      }
      parent = next;
      ancestors.push(next);
    }
    if (parent === root) continue;
    parent.change = change;
    // Every folder above this path counts it (the path's own node does not count itself).
    for (const folder of ancestors.slice(0, -1)) {
      folder.count += 1;
      folder.bytes += change.size ?? 0;
      folder.kinds[change.kind] += 1;
    }
  }
  sort(root);
  return root;
}

/** Whether `n` is drawn as a folder: it holds changes, or the engine says it is a directory. */
export function isFolder(n) {
  return n.children.length > 0 || Boolean(n.change?.is_dir);
}

function node(name, path) {
  return { name, path, change: null, children: [], count: 0, bytes: 0, kinds: { added: 0, changed: 0, deleted: 0 } };
}

function sort(n) {
  // Numbers in names in their order (f2 before f10), as file managers sort them.
  n.children.sort((a, b) => Number(isFolder(b)) - Number(isFolder(a)) || a.name.localeCompare(b.name, 'en', { numeric: true }));
  for (const child of n.children) sort(child);
}
