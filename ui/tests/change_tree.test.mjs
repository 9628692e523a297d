// The change tree's counts, sizes and filter (node --test ui/tests).
import test from 'node:test';
import assert from 'node:assert/strict';
import { buildTree, countKinds, matches, isFolder } from '../js/change_tree.js';

const changes = [
  { path: '/etc', kind: 'changed', is_dir: true, size: null },
  { path: '/etc/apt', kind: 'added', is_dir: true, size: null },
  { path: '/etc/apt/a.list', kind: 'added', is_dir: false, size: 100 },
  { path: '/etc/apt/b.list', kind: 'added', is_dir: false, size: 20 },
  { path: '/etc/motd', kind: 'deleted', is_dir: false, size: null },
  { path: '/usr/bin/python3', kind: 'added', is_dir: false, size: 5000 },
];

test('folders count and weigh everything below them', () => {
  const root = buildTree(changes);
  assert.equal(root.count, 6);
  assert.equal(root.bytes, 5120);
  const etc = root.children.find((n) => n.name === 'etc');
  assert.equal(etc.change.kind, 'changed');
  assert.equal(etc.count, 4);
  assert.equal(etc.bytes, 120);
  assert.deepEqual(etc.kinds, { added: 3, changed: 0, deleted: 1 });
  // Folders come before files, then names in order.
  assert.deepEqual(etc.children.map((n) => n.name), ['apt', 'motd']);
  const apt = etc.children[0];
  assert.equal(apt.count, 2);
  assert.equal(apt.bytes, 120);
  // A folder the engine did not list on its own still groups its changes.
  const usr = root.children.find((n) => n.name === 'usr');
  assert.equal(usr.change, null);
  assert.equal(usr.count, 1);
  assert.ok(isFolder(usr));
  assert.ok(!isFolder(etc.children[1]));
});

test('names with numbers sort by value', () => {
  const root = buildTree(['/f10', '/f2', '/f1'].map((path) => ({ path, kind: 'added', is_dir: false, size: 1 })));
  assert.deepEqual(root.children.map((n) => n.name), ['f1', 'f2', 'f10']);
});

test('kinds are counted and filtered', () => {
  assert.deepEqual(countKinds(changes), { added: 4, changed: 1, deleted: 1 });
  assert.deepEqual(changes.filter((c) => matches(c, 'APT list')).map((c) => c.path), ['/etc/apt/a.list', '/etc/apt/b.list']);
  assert.deepEqual(changes.filter((c) => matches(c, 'd:')).map((c) => c.path), ['/etc/motd']);
  assert.equal(changes.filter((c) => matches(c, '')).length, 6);
});
