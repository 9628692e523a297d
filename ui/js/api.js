// Every IPC call of the UI goes through this module, so the command names and argument shapes live
// in one place and every failure reaches the page as the core's {code, message}. What each command
// returns and each channel carries is typed by the declarations core generates (./types, see
// crates/core/src/ui_types.rs); `tsc -p ui` (./dev test) rejects a view reading a field that
// core does not send.

/** @typedef {import('./types/BlobDto').BlobDto} BlobDto */
/** @typedef {import('./types/CatalogPage').CatalogPage} CatalogPage */
/** @typedef {import('./types/ChangeDto').ChangeDto} ChangeDto */
/** @typedef {import('./types/CommitOutcome').CommitOutcome} CommitOutcome */
/** @typedef {import('./types/ContainerDto').ContainerDto} ContainerDto */
/** @typedef {import('./types/BuildEvent').BuildEvent} BuildEvent */
/** @typedef {import('./types/CopyEvent').CopyEvent} CopyEvent */
/** @typedef {import('./types/CopyOutcome').CopyOutcome} CopyOutcome */
/** @typedef {import('./types/DeletePlan').DeletePlan} DeletePlan */
/** @typedef {import('./types/Elsewhere').Elsewhere} Elsewhere */
/** @typedef {import('./types/GcReport').GcReport} GcReport */
/** @typedef {import('./types/Selection').Selection} Selection */
/** @typedef {import('./types/TagPage').TagPage} TagPage */
/** @typedef {import('./types/TagSort').TagSort} TagSort */
/** @typedef {import('./types/Usage').Usage} Usage */
/** @typedef {import('./types/EngineStatus').EngineStatus} EngineStatus */
/** @typedef {import('./types/ErrorDto').ErrorDto} ErrorDto */
/** @typedef {import('./types/FetchEvent').FetchEvent} FetchEvent */
/** @typedef {import('./types/FetchOutcome').FetchOutcome} FetchOutcome */
/** @typedef {import('./types/ImageDetailsDto').ImageDetailsDto} ImageDetailsDto */
/** @typedef {import('./types/ImageDto').ImageDto} ImageDto */
/** @typedef {import('./types/LocalRegistryStatus').LocalRegistryStatus} LocalRegistryStatus */
/** @typedef {import('./types/NameCheck').NameCheck} NameCheck */
/** @typedef {import('./types/PullEvent').PullEvent} PullEvent */
/** @typedef {import('./types/PullCommands').PullCommands} PullCommands */
/** @typedef {import('./types/PushEvent').PushEvent} PushEvent */
/** @typedef {import('./types/PushOutcome').PushOutcome} PushOutcome */
/** @typedef {import('./types/Route').Route} Route */
/** @typedef {import('./types/RegistryProfile').RegistryProfile} RegistryProfile */
/** @typedef {import('./types/RemoteImageDto').RemoteImageDto} RemoteImageDto */
/** @typedef {import('./types/TagRow').TagRow} TagRow */
/** @typedef {import('./types/TerminalEvent').TerminalEvent} TerminalEvent */
/** @typedef {import('./types/WorkshopLog').WorkshopLog} WorkshopLog */
/** What a registry's probe found (slipway-oci's Capabilities); the page lists it as it comes. */
/** @typedef {Record<string, unknown>} Capabilities */

const tauri = window.__TAURI__;

/**
 * Normalises anything a command can reject with into {code, message}.
 * @returns {ErrorDto}
 */
function toError(e) {
  if (e && typeof e === 'object' && 'message' in e) {
    return { code: e.code || 'error', message: String(e.message) };
  }
  return { code: 'ipc', message: String(e) };
}

/**
 * @template T
 * @param {string} cmd
 * @param {Record<string, unknown>} [args]
 * @returns {Promise<T>}
 */
async function call(cmd, args = {}) {
  try {
    return await tauri.core.invoke(cmd, args);
  } catch (e) {
    throw toError(e);
  }
}

/**
 * A channel that hands each message from Rust to `onMessage`.
 * @template T
 * @param {(message: T) => void} onMessage
 */
function channel(onMessage) {
  /** @type {TauriChannel<T>} */
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
/** @type {() => Promise<EngineStatus>} */
export const engineStatus = () => call('engine_status');
/** @type {() => Promise<ImageDto[]>} */
export const listImages = () => call('images_list');
/** @type {() => Promise<ContainerDto[]>} */
export const listContainers = () => call('containers_list');
/** @type {(reference: string) => Promise<ImageDetailsDto>} */
export const inspectImage = (reference) => call('image_inspect', { reference });
/** @type {(source: string, target: string) => Promise<void>} */
export const tagImage = (source, target) => call('image_tag', { source, target });
/** @type {(reference: string) => Promise<string[]>} */
export const removeImage = (reference) => call('image_remove', { reference });
/** @type {(reference: string, opId: string, onProgress: (ev: PullEvent) => void) => Promise<ImageDetailsDto>} */
export const pullImage = (reference, opId, onProgress) =>
  call('image_pull', { reference, opId, onProgress: channel(onProgress) });
/** `route` is core's Route; `auto` lets core choose.
 * @type {(source: string, profile: string, target: string, route: Route, opId: string, onProgress: (ev: PushEvent) => void) => Promise<PushOutcome>} */
export const pushImage = (source, profile, target, route, opId, onProgress) =>
  call('image_push', { source, profile, target, route, opId, onProgress: channel(onProgress) });
/** Builds the folder `dir` (its Dockerfile) as `tag`; resolves with the new image's id. */
/** @type {(dir: string, tag: string, opId: string, onEvent: (ev: BuildEvent) => void) => Promise<string>} */
export const buildImage = (dir, tag, opId, onEvent) =>
  call('image_build', { dir, tag, opId, onEvent: channel(onEvent) });
/** @type {(opId: string) => Promise<boolean>} */
export const cancel = (opId) => call('op_cancel', { opId });

// Workshop.
/** @type {(image: string) => Promise<ContainerDto>} */
export const startWorkshop = (image) => call('workshop_start', { image });
/** The workshops still running, newest first (a restarted window reattaches to them). */
/** @type {() => Promise<ContainerDto[]>} */
export const runningWorkshops = () => call('workshops_running');
/** @type {(container: string) => Promise<void>} */
export const removeWorkshop = (container) => call('workshop_remove', { container });
// The workshop's terminal: a shell in the container, by session id, until its `exit` event.
/** @type {(container: string, rows: number, cols: number, onEvent: (ev: TerminalEvent) => void) => Promise<string>} */
export const openTerminal = (container, rows, cols, onEvent) =>
  call('terminal_open', { container, rows, cols, onEvent: channel(onEvent) });
/** @type {(id: string, data: string) => Promise<void>} */
export const terminalInput = (id, data) => call('terminal_input', { id, data });
/** @type {(id: string, rows: number, cols: number) => Promise<void>} */
export const resizeTerminal = (id, rows, cols) => call('terminal_resize', { id, rows, cols });
/** @type {(id: string) => Promise<void>} */
export const closeTerminal = (id) => call('terminal_close', { id });
/** @type {(container: string) => Promise<WorkshopLog>} */
export const workshopLog = (container) => call('workshop_log', { container });
/** The workshop-log label a commit would store, exactly (redacted, newest 64 KiB). */
/** @type {(container: string) => Promise<string | null>} */
export const workshopLogLabel = (container) => call('workshop_log_label', { container });
/** @type {(container: string) => Promise<ChangeDto[]>} */
export const containerChanges = (container) => call('container_changes', { container });
/** @type {(container: string, env: string[]) => Promise<import('./types/HygieneDto').HygieneDto>} */
export const workshopHygiene = (container, env) => call('workshop_hygiene', { container, env });
/** @type {(container: string) => Promise<import('./types/CleanOutcome').CleanOutcome>} */
export const workshopClean = (container) => call('workshop_clean', { container });
/** @type {(repository: string, tag: string) => Promise<NameCheck>} */
export const validateReference = (repository, tag) => call('validate_reference', { repository, tag });
/** @type {(request: import('./types/CommitRequest').CommitRequest) => Promise<CommitOutcome>} */
export const commitContainer = (request) => call('container_commit', { request });

/** The workshop as a Dockerfile; `changes` are the commit form's CMD, ENV, … lines. */
/** @type {(container: string, changes: string[]) => Promise<string>} */
export const workshopDockerfile = (container, changes) =>
  call('workshop_dockerfile', { container, changes });
/** Saves `text` as `dir/Dockerfile`, never over an existing file; resolves with its path. */
/** @type {(dir: string, text: string) => Promise<string>} */
export const saveDockerfile = (dir, text) => call('workshop_dockerfile_save', { dir, text });
/** Runs the workshop's successful commands again in a new workshop from `image`. */
/** @type {(container: string, image: string, opId: string, onEvent: (ev: import('./types/ReplayEvent').ReplayEvent) => void) => Promise<import('./types/ReplayOutcome').ReplayOutcome>} */
export const replayWorkshop = (container, image, opId, onEvent) =>
  call('workshop_replay', { container, image, opId, onEvent: channel(onEvent) });

// Registry profiles and the managed local registry. Every call that talks to a registry takes an
// op id, so that `cancel(opId)` can stop it.
/** @type {() => Promise<RegistryProfile[]>} */
export const listProfiles = () => call('profiles_list');
/** @type {(profile: RegistryProfile, password: string | null, opId: string) => Promise<RegistryProfile>} */
export const saveProfile = (profile, password, opId) => call('profile_save', { profile, password, opId });
/** @type {(name: string) => Promise<void>} */
export const removeProfile = (name) => call('profile_remove', { name });
/** @type {(profile: RegistryProfile, password: string | null, opId: string) => Promise<Capabilities>} */
export const testProfile = (profile, password, opId) => call('profile_test', { profile, password, opId });
/** @type {() => Promise<LocalRegistryStatus>} */
export const localRegistryStatus = () => call('local_registry_status');
/** @type {() => Promise<LocalRegistryStatus>} */
export const localRegistryStart = () => call('local_registry_start');
/** @type {() => Promise<LocalRegistryStatus>} */
export const localRegistryStop = () => call('local_registry_stop');

// Registry browser.
/** @type {(profile: string, last: string | null, n: number, opId: string) => Promise<CatalogPage>} */
export const catalog = (profile, last, n, opId) => call('registry_catalog', { profile, last, n, opId });
/** @type {(profile: string, repository: string, tag: string, opId: string) => Promise<RemoteImageDto>} */
export const tagDetails = (profile, repository, tag, opId) => call('registry_tag_details', { profile, repository, tag, opId });
/** @type {(profile: string, repository: string, tag: string, opId: string) => Promise<DeletePlan>} */
export const deleteTag = (profile, repository, tag, opId) => call('registry_delete_tag', { profile, repository, tag, opId });
/** @type {(profile: string, repository: string, sort: TagSort, offset: number, limit: number, opId: string) => Promise<TagPage>} */
export const listTagPage = (profile, repository, sort, offset, limit, opId) =>
  call('registry_tags', { profile, repository, sort, offset, limit, opId });
/** @type {(profile: string, repository: string, options?: {tag?: string | null, allTags?: boolean, selection?: Selection | null}) => Promise<DeletePlan>} */
export const deletePlan = (profile, repository, { tag = null, allTags = false, selection = null } = {}) =>
  call('registry_delete_plan', { profile, repository, tag, allTags, selection });
/** @type {(profile: string, plan: DeletePlan) => Promise<DeletePlan>} */
export const executeDelete = (profile, plan) => call('registry_delete_execute', { profile, plan });
/** @type {(profile: string, repository: string | null) => Promise<Usage>} */
export const usage = (profile, repository) => call('registry_usage', { profile, repository });
/** @type {(dryRun: boolean) => Promise<GcReport>} */
export const localRegistryGc = (dryRun) => call('local_registry_gc', { dryRun });
/** @type {(profile: string) => Promise<string>} */
export const gcInstructions = (profile) => call('registry_gc_instructions', { profile });
/** @type {(profile: string) => Promise<Elsewhere>} */
export const elsewhere = (profile) => call('registry_elsewhere', { profile });
/** @type {(fromProfile: string, source: string, toProfile: string, target: string, opId: string, onProgress: (ev: CopyEvent) => void) => Promise<CopyOutcome>} */
export const copyImage = (fromProfile, source, toProfile, target, opId, onProgress) =>
  call('registry_copy', { fromProfile, source, toProfile, target, opId, onProgress: channel(onProgress) });

// The way back: a registry's image into the engine through core's fetch.
/** @type {(profile: string, path: string, opId: string, onProgress: (ev: FetchEvent) => void) => Promise<FetchOutcome>} */
export const registryFetch = (profile, path, opId, onProgress) =>
  call('registry_fetch', { profile, path, opId, onProgress: channel(onProgress) });
/** @type {(reference: string) => Promise<string | null>} */
export const pullProfile = (reference) => call('pull_profile', { reference });
/** @type {(profile: string, repository: string, tag: string, digest: string) => Promise<PullCommands>} */
export const pullCommands = (profile, repository, tag, digest) =>
  call('registry_pull_commands', { profile, repository, tag, digest });
