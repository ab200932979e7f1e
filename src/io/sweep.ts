/**
 * Interrupted saves. A process killed before its commit leaves
 * `weights.<id>.bin` and `model.json.<id>.tmp` behind; one killed after it,
 * the previous weights. After every successful save the directory is swept: a
 * file is removed only if (a) its name matches the pattern this handler
 * writes (other files, a user's notes or weights written by other tools, are
 * never touched), (b) the current `model.json` does not reference it, and
 * (c) no save can still be writing it. For (c), an id is
 * `<time>-<pid>-<host>-<random>` (base-36 time and pid, a hash of the host
 * name, random hex), so the sweeper can tell whose file it is:
 *   - written on this host by a process that no longer exists: removed now;
 *   - written by this process: removed unless its save is still running
 *     (tracked in memory, shared by every copy of this module);
 *   - written by a live process, on another host (a shared network
 *     directory), or named in the older `<time>-<random>` format: removed only
 *     once unmodified for {@link STALE_AFTER_MS} (an hour). A save writes
 *     continuously and commits within seconds, so such a file is abandoned.
 * We chose this over a lock file because a killed process cannot release a
 * lock, so the lock would need the same liveness test and one more file to
 * clean; and over age alone because then the save after a crash would leave
 * its orphans for an hour, and a trainer killed repeatedly piles them up.
 * Limit: processes in different pid namespaces (containers) sharing one
 * directory and one host name look dead to each other. As a second guard a
 * save checks, just before its commit, that its weight file still exists, and
 * fails (leaving the previous save) rather than commit a model without it.
 */
import {errorCode} from './errors';
import {MODEL_JSON} from './format';
import type {NodeModules} from './node_modules';

/**
 * Age (by modification time) after which a temporary whose writer cannot be
 * checked (alive, on another host, or in the older id format) counts as
 * abandoned and is removed by the next save into its directory.
 */
export const STALE_AFTER_MS = 60 * 60 * 1000;

/**
 * Files inside `dir` that the current `dir/model.json` references: empty when
 * there is no model.json, null when it exists but cannot be read or parsed.
 * Paths leaving `dir` are never included.
 */
export async function referencedFiles(
    {fs, path}: NodeModules, dir: string, modelJsonPath: string): Promise<string[]|null> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await fs.promises.readFile(modelJsonPath, 'utf8')).weightsManifest;
  } catch (e) {
    return errorCode(e) === 'ENOENT' ? [] : null;
  }
  if (!Array.isArray(manifest)) return [];
  const files: string[] = [];
  for (const group of manifest) {
    for (const p of Array.isArray(group?.paths) ? group.paths : []) {
      if (typeof p !== 'string') continue;
      const full = path.resolve(dir, p);
      const rel = path.relative(dir, full);
      if (rel !== '' && rel !== MODEL_JSON && !rel.startsWith('..') && !path.isAbsolute(rel)) {
        files.push(full);
      }
    }
  }
  return files;
}

/**
 * The names this handler gives its files: `weights.<id>.bin` and
 * `model.json.<id>.tmp`, where `<id>` is `<time>-<pid>-<host>-<random>` or, as
 * written before pids were recorded, `<time>-<random>` (all base 36 or hex).
 */
const OUR_FILE = new RegExp(
    '^(?:weights\\.(ID)\\.bin|model\\.json\\.(ID)\\.tmp)$'.replace(
        /ID/g, '[0-9a-z]{8,9}-(?:[0-9a-z]{1,8}|[0-9a-z]{1,8}-[0-9a-f]{8}-[0-9a-f]{8})'));

let hostTagCache: string|undefined;

/** 8 hex digits identifying this machine's host name. */
function hostTag({crypto, os}: NodeModules): string {
  return hostTagCache ??= crypto.createHash('sha256').update(os.hostname()).digest('hex').slice(0, 8);
}

const ACTIVE_KEY = Symbol.for('tfjs-variational.io.activeSaves');

/** Ids of the saves in progress in this process (shared by every copy of this module). */
export function activeSaves(): Set<string> {
  const global = globalThis as {[ACTIVE_KEY]?: Set<string>};
  return global[ACTIVE_KEY] ?? (global[ACTIVE_KEY] = new Set<string>());
}

export function newSaveId(modules: NodeModules): string {
  return `${Date.now().toString(36)}-${process.pid.toString(36)}-${hostTag(modules)}-` +
      modules.crypto.randomBytes(4).toString('hex');
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errorCode(e) !== 'ESRCH';  // EPERM: it exists, owned by someone else
  }
}

/** Whether the temporary `file` with save id `id` can no longer be in use (see the header). */
async function isAbandoned(modules: NodeModules, file: string, id: string): Promise<boolean> {
  const info = await modules.fs.promises.lstat(file).catch(() => null);
  if (info == null || !info.isFile()) return false;
  const parts = id.split('-');
  if (parts.length === 4 && parts[2] === hostTag(modules)) {
    const pid = parseInt(parts[1], 36);
    if (pid === process.pid) return !activeSaves().has(id);
    if (!processExists(pid)) return true;
  }
  return Date.now() - info.mtimeMs > STALE_AFTER_MS;
}

/**
 * Removes what interrupted saves left in `dir` (see the header): files named
 * by our pattern, not referenced by the current model.json, not in `keep`, and
 * no longer in use. Best effort: a file that cannot be removed stays for the
 * next save.
 */
export async function sweepInterruptedSaves(
    modules: NodeModules, dir: string, modelJsonPath: string, keep: string[]): Promise<void> {
  const {fs, path} = modules;
  const names = await fs.promises.readdir(dir).catch(() => null);
  const referenced = await referencedFiles(modules, dir, modelJsonPath);
  if (names == null || referenced == null) return;
  const spared = new Set([...referenced, ...keep]);
  for (const name of names) {
    const match = OUR_FILE.exec(name);
    const file = path.join(dir, name);
    if (match == null || spared.has(file)) continue;
    if (await isAbandoned(modules, file, match[1] ?? match[2])) {
      await fs.promises.rm(file, {force: true}).catch(() => undefined);
    }
  }
}
