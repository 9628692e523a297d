// Which registry the browser opens on, and how it shows one it cannot reach: it remembers the
// last registry the user browsed, and an unreachable registry is a calm state that explains why
// (the probe's words) with a Retry, not a red error every time the view opens.
import { windowHint } from '../hints.js';
import { h, reveal } from '../util.js';

const KEY = 'slipway.browser.profile';

/** Error codes that mean "the registry is not there (now)", not "something went wrong". */
const AWAY = new Set(['registry_unreachable', 'registry_connection_broken']);

/**
 * The profile to open on: the last one browsed if it still exists, else the first the user made
 * (not the built-in local one, which is often not running), else the first there is.
 * @param {import('../types/RegistryProfile').RegistryProfile[]} profiles
 * @param {string} current the selection before the list was rebuilt
 * @returns {string}
 */
export function openingProfile(profiles, current) {
  const names = profiles.map((p) => p.name);
  const remembered = localStorage.getItem(KEY);
  if (current && names.includes(current)) return current;
  if (remembered && names.includes(remembered)) return remembered;
  const own = profiles.find((p) => !p.managed);
  return own ? own.name : names[0] || '';
}

/** @param {string} name */
export function rememberProfile(name) {
  if (name) localStorage.setItem(KEY, name);
}

/**
 * Shows a failed load in `el`: an unreachable registry calmly, with its explanation and Retry;
 * anything else as an error. `null` clears it.
 * @param {any} el @param {import('../types/ErrorDto').ErrorDto | null} err @param {() => void} retry
 */
export function showLoadFailure(el, err, retry) {
  if (!err) {
    el.replaceChildren();
    el.dataset.state = '';
    el.dataset.code = '';
    reveal(el, false);
    return;
  }
  const away = AWAY.has(err.code);
  el.className = away ? 'card muted' : 'error';
  el.dataset.state = away ? 'unreachable' : 'error';
  el.dataset.code = err.code;
  el.replaceChildren(
    h('div', {}, away ? 'This registry does not answer right now.' : ''),
    h('div', { 'data-testid': 'browser-error-text' }, err.message),
    windowHint(err) ? h('div', { 'data-testid': 'browser-error-hint' }, `What to do: ${windowHint(err)}`) : '',
    h('button', { 'data-testid': 'browser-retry', onclick: retry }, 'Retry'));
  reveal(el, true);
}
