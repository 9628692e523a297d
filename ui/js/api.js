// Every IPC call of the UI goes through this module, so the command names and argument shapes live
// in one place and every failure reaches the page as the core's {code, message}.

const tauri = window.__TAURI__;

/** Normalises anything a command can reject with into {code, message}. */
function toError(e) {
  if (e && typeof e === 'object' && 'message' in e) {
    return { code: e.code || 'error', message: String(e.message) };
  }
  return { code: 'ipc', message: String(e) };
}

async function call(cmd, args = {}) {
  try {
    return await tauri.core.invoke(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

/** A channel that hands each message from Rust to `onMessage`. */
function channel(onMessage) {
  const ch = new tauri.core.Channel();
  ch.onmessage = onMessage;
  return ch;
}

let opCounter = 0;
/** An id the Rust side files a long operation under, so a Cancel button can name it. */
export function newOpId(kind) {
  opCounter += 1;
  return `${kind}-${Date.now()}-${opCounter}`;
}

// Engine, images, containers.
export const engineStatus = () => call('engine_status');
export const listImages = () => call('images_list');
export const listContainers = () => call('containers_list');
export const inspectImage = (reference) => call('image_inspect', { reference });
export const tagImage = (source, target) => call('image_tag', { source, target });
export const removeImage = (reference) => call('image_remove', { reference });
export const pullImage = (reference, opId, onProgress) =>
  call('image_pull', { reference, opId, onProgress: channel(onProgress) });
export const pushImage = (source, profile, target, opId, onProgress) =>
  call('image_push', { source, profile, target, opId, onProgress: channel(onProgress) });
export const cancel = (opId) => call('op_cancel', { opId });

// Workshop.
export const startWorkshop = (image) => call('workshop_start', { image });
export const removeWorkshop = (container) => call('workshop_remove', { container });
export const execInConsole = (container, command, opId, onOutput) =>
  call('console_exec', { container, command, opId, onOutput: channel(onOutput) });
export const workshopLog = (container) => call('workshop_log', { container });
/** The workshop-log label a commit would store, exactly (redacted, newest 64 KiB). */
export const workshopLogLabel = (container) => call('workshop_log_label', { container });
export const containerChanges = (container) => call('container_changes', { container });
export const validateReference = (repository, tag) => call('validate_reference', { repository, tag });
export const commitContainer = (request) => call('container_commit', { request });

// Registry profiles and the managed local registry. Every call that talks to a registry takes an
// op id, so that `cancel(opId)` can stop it.
export const listProfiles = () => call('profiles_list');
export const saveProfile = (profile, password, opId) => call('profile_save', { profile, password, opId });
export const removeProfile = (name) => call('profile_remove', { name });
export const testProfile = (profile, password, opId) => call('profile_test', { profile, password, opId });
export const localRegistryStatus = () => call('local_registry_status');
export const localRegistryStart = () => call('local_registry_start');
export const localRegistryStop = () => call('local_registry_stop');

// Registry browser.
export const catalog = (profile, last, n, opId) => call('registry_catalog', { profile, last, n, opId });
export const tagDetails = (profile, repository, tag, opId) => call('registry_tag_details', { profile, repository, tag, opId });
export const deleteTag = (profile, repository, tag, opId) => call('registry_delete_tag', { profile, repository, tag, opId });
export const listTagPage = (profile, repository, sort, offset, limit, opId) =>
  call('registry_tags', { profile, repository, sort, offset, limit, opId });
export const deletePlan = (profile, repository, { tag = null, allTags = false, selection = null } = {}) =>
  call('registry_delete_plan', { profile, repository, tag, allTags, selection });
export const executeDelete = (profile, plan) => call('registry_delete_execute', { profile, plan });
export const usage = (profile, repository) => call('registry_usage', { profile, repository });
export const localRegistryGc = (dryRun) => call('local_registry_gc', { dryRun });
export const gcInstructions = (profile) => call('registry_gc_instructions', { profile });
export const elsewhere = (profile) => call('registry_elsewhere', { profile });
export const copyImage = (fromProfile, source, toProfile, target, opId, onProgress) =>
  call('registry_copy', { fromProfile, source, toProfile, target, opId, onProgress: channel(onProgress) });
