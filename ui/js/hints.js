// What to do about an error, in the window's own words (its views and buttons), chosen by the
// core's stable error code. Core's messages say what went wrong; the CLI keeps its own table of
// flags and commands (crates/cli/src/main.rs, cli_hint).

/** @typedef {import('./types/EngineFailureCode').EngineFailureCode} EngineFailureCode */

// Typed so that tsc fails when one of the engine's failure codes has no hint here.
/** @type {Record<string, string> & Record<EngineFailureCode, string>} */
const WINDOW_HINTS = {
  engine_unreachable: 'Start the container engine, then press Refresh on the Engine view.',
  engine_refused_http:
    'Add this registry under Registries with "Allow plain HTTP" ticked, then Pull again: Slipway then pulls it through that profile.',
  engine_error: 'Check the Engine view; if the engine is busy or was restarted, try again.',
  not_found: 'Check the name against the Images list (or the Engine view for containers).',
  registry_http_only: 'Open Registries, tick "Allow plain HTTP" for this registry, and save.',
  registry_untrusted_certificate: "Open Registries and choose the registry's CA file for this profile.",
  registry_unreachable: 'Check the address under Registries and that the registry runs, then Retry.',
  registry_connection_broken: 'The connection dropped; Retry when the registry answers again.',
  unauthorized: 'Open Registries, fill in the username and password for this registry, and save.',
  denied: 'The account under Registries may not do this here; use one that may.',
  delete_disabled: 'The registry has deletes switched off; its operator can enable them.',
  catalog_disabled: 'The registry does not list repositories; type the repository name instead.',
  engine_network_missing:
    'Restart the container engine so it recreates its bridge network (sudo systemctl restart docker), then start the container again.',
  name_in_use: 'Choose another container name, or remove the container that has it in the Engine view first.',
  engine_permission_denied:
    'Your user may not use the engine: add it to the docker group (sudo usermod -aG docker $USER), log in again, then press Refresh on the Engine view.',
  engine_disk_full: 'Free disk space for the engine (remove images you no longer need under Images), then try again.',
  engine_pull_unauthorized:
    'Add the registry under Registries with a username and password, then Pull again: Slipway then pulls it through that profile. Or check the name.',
  engine_manifest_unknown: 'Check the name and tag: the registry browser lists the tags a repository has.',
};

/**
 * The window's hint for `err`, or null when the message says it all.
 * @param {import('./types/ErrorDto').ErrorDto} err
 * @returns {string | null}
 */
export function windowHint(err) {
  return WINDOW_HINTS[err.code] ?? null;
}

/**
 * The error's message with the window's "what to do" line, for places that show plain text.
 * @param {import('./types/ErrorDto').ErrorDto} err
 */
export function describe(err) {
  const hint = windowHint(err);
  return hint ? `${err.message}\nWhat to do: ${hint}` : err.message;
}
