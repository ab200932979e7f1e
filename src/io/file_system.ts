/**
 * A `file://` IOHandler for Node.js without `@tensorflow/tfjs-node`.
 *
 * Layout on disk (the tfjs layers-model format, plus one field of ours):
 *
 *     dir/model.json              topology, training config, weightsManifest, tfvWeights
 *     dir/weights.<id>.bin        weight bytes named in weightsManifest
 *
 * Saving is atomic: the weights go to a file with a fresh name and the JSON
 * to `model.json.<id>.tmp`; both are flushed to disk, then the temporary JSON
 * is renamed onto `model.json`. That rename is the commit point, so a crash or
 * error at any moment leaves either the previous save or the new one, never a
 * mixture. Weight files the previous `model.json` referenced are deleted after
 * the commit. A failed save reports the step and the system's error code
 * (EACCES, EROFS, ENOSPC, ENOTDIR, EEXIST, ...).
 *
 * Integrity. `model.json` carries
 * `"tfvWeights": {"count": <weights>, "bytes": <bytes>, "sha256": {"weights.<id>.bin": "<hex>"}}`.
 * tfjs's own loaders (`tf.io.getModelArtifactsForJSON`, `tf.io.fromMemory`,
 * tfjs-node's `file://` handler) copy the fields they know by name, so they
 * ignore it. On load each weight file's SHA-256 is checked against it, and a
 * `model.json` whose record counts weights but that lists no weight files is
 * refused instead of loading freshly initialised weights. Files without the
 * field (older saves, other tools) load as before, unchecked; when such a file
 * lists no weights, the handler hands tfjs an empty weight set so that strict
 * loading (the default of `tf.loadLayersModel`) fails if the topology builds
 * any weight, and refuses outright a topology whose layers name weight
 * initializers.
 *
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
 *
 * Node's `fs`, `path`, `crypto` and `os` are looked up at run time (never
 * imported), because the same source is bundled for browsers, where the
 * router is not registered.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as NodeCrypto from 'crypto';
import type * as NodeFs from 'fs';
import type * as NodeOs from 'os';
import type * as NodePath from 'path';

const URL_SCHEME = 'file://';
const MODEL_JSON = 'model.json';
/** Our field in model.json: weight count, bytes and each weight file's SHA-256. */
const RECORD_KEY = 'tfvWeights';

/**
 * Age (by modification time) after which a temporary whose writer cannot be
 * checked (alive, on another host, or in the older id format) counts as
 * abandoned and is removed by the next save into its directory.
 */
export const STALE_AFTER_MS = 60 * 60 * 1000;

interface NodeModules {
  fs: typeof NodeFs;
  path: typeof NodePath;
  crypto: typeof NodeCrypto;
  os: typeof NodeOs;
}

let nodeModules: NodeModules|null|undefined;
let fsOverride: typeof NodeFs|null = null;

/**
 * Node's `fs`, `path`, `crypto` and `os`, or null outside Node. Uses
 * `process.getBuiltinModule` (Node >= 20.16) and falls back to the CommonJS
 * `require` when there is one.
 */
function getNodeModules(): NodeModules|null {
  if (nodeModules !== undefined) {
    return nodeModules;
  }
  nodeModules = null;
  const proc = (globalThis as {process?: Partial<NodeJS.Process>}).process;
  if (proc == null || proc.versions == null || proc.versions.node == null) {
    return null;
  }
  let load: ((id: string) => unknown)|undefined;
  if (typeof proc.getBuiltinModule === 'function') {
    load = (id) => (proc.getBuiltinModule as (id: string) => unknown)(id);
  } else if (typeof require === 'function') {
    load = require;
  }
  if (load != null) {
    try {
      nodeModules = {
        fs: load('fs') as typeof NodeFs,
        path: load('path') as typeof NodePath,
        crypto: load('crypto') as typeof NodeCrypto,
        os: load('os') as typeof NodeOs,
      };
    } catch {
      nodeModules = null;
    }
  }
  return nodeModules;
}

function requireNodeModules(): NodeModules {
  const modules = getNodeModules();
  if (modules == null) {
    throw new Error(
        'tfv.io.fileSystem needs Node.js (the fs module is not available here). ' +
        'In a browser, use tf.io.browserDownloads, indexeddb:// or localstorage://.');
  }
  return fsOverride == null ? modules : {...modules, fs: fsOverride};
}

/**
 * Replaces (or with `null` restores) the `fs` module the handler uses, so that
 * tests can inject system errors where a real filesystem cannot produce them.
 * For tests only.
 *
 * @internal
 */
export function setFileSystemForTesting(fs: typeof NodeFs|null): void {
  fsOverride = fs;
}

/**
 * Steps of a save at which tests can inject a failure or a pause: `weights`
 * and `model.json` after that file's bytes are written and before they are
 * flushed; `committed` after the rename onto model.json and before old files
 * are removed.
 */
export type SaveStep = 'weights'|'model.json'|'committed';
type SaveHook = (step: SaveStep) => void|Promise<void>;
let saveHook: SaveHook|null = null;

/**
 * Installs (or with `null` removes) a function called at each {@link SaveStep}
 * of every save. A hook that throws at `weights` or `model.json` simulates a
 * disk error there; one that never resolves holds the save at that point.
 * For tests only.
 *
 * @internal
 */
export function setSaveHookForTesting(hook: SaveHook|null): void {
  saveHook = hook;
}

function errorCode(e: unknown): string|undefined {
  const code = (e as {code?: unknown}|null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const ERROR_PHRASES: {[code: string]: string} = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  ENOTDIR: 'a component of the path is not a directory',
  EEXIST: 'a file already exists there',
  EISDIR: 'it is a directory',
  ENOENT: 'no such file or directory',
  EIO: 'input/output error',
  EBUSY: 'resource busy',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'cross-device link',
};

/** `permission denied (EACCES)` for a system error, the message for any other. */
function describeError(e: unknown): string {
  const code = errorCode(e);
  if (code == null) return message(e);
  return `${ERROR_PHRASES[code] ?? message(e)} (${code})`;
}

/** An error during one step of a save, remembered until the save's message is built. */
class StepError extends Error {
  constructor(readonly step: string, readonly cause: unknown) {
    super(`${step}: ${message(cause)}`);
  }
}

async function inStep<T>(step: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw e instanceof StepError ? e : new StepError(step, e);
  }
}

/** The error a failed save reports: the directory, the cause with its code, and the step. */
function saveFailure(dir: string, e: unknown): Error {
  const step = e instanceof StepError ? e.step : 'saving';
  const cause = e instanceof StepError ? e.cause : e;
  const what = errorCode(cause) != null ? `${describeError(cause)} ${step}` :
                                          `${step} failed: ${message(cause)}`;
  return new Error(`Cannot save model to ${dir}: ${what}; its earlier contents are unchanged.`);
}

/** The nearest ancestor of `p` (or `p` itself) that exists and is not a directory, if any. */
async function nonDirectoryOnPath({fs, path}: NodeModules, p: string): Promise<string|null> {
  for (let current = p;; current = path.dirname(current)) {
    const info = await fs.promises.stat(current).catch(() => null);
    if (info != null) return info.isDirectory() ? null : current;
    if (path.dirname(current) === current) return null;
  }
}

/**
 * Creates `dir` and its missing parents one level at a time, so that a failure
 * carries the real cause (a recursive mkdir reports ENOENT on a read-only
 * filesystem, for one).
 */
async function ensureDirectory(modules: NodeModules, dir: string): Promise<void> {
  const {fs, path} = modules;
  const missing: string[] = [];
  for (let current = dir;; current = path.dirname(current)) {
    let info: NodeFs.Stats;
    try {
      info = await fs.promises.stat(current);
    } catch (e) {
      const code = errorCode(e);
      if ((code === 'ENOENT' || code === 'ENOTDIR') && path.dirname(current) !== current) {
        missing.unshift(current);
        continue;
      }
      throw new Error(`Cannot save model to ${dir}: ${describeError(e)} examining ${current}.`);
    }
    if (!info.isDirectory()) {
      throw new Error(current === dir ?
          `Cannot save model to ${dir}: it exists and is not a directory (EEXIST).` :
          `Cannot save model to ${dir}: ${current} is a file, not a directory (ENOTDIR), ` +
              'so the directory cannot be created inside it.');
    }
    break;
  }
  for (const d of missing) {
    try {
      await fs.promises.mkdir(d);
    } catch (e) {
      if (errorCode(e) === 'EEXIST' && (await fs.promises.stat(d).catch(() => null))?.isDirectory()) {
        continue;  // created meanwhile by someone else
      }
      throw new Error(
          `Cannot save model to ${dir}: ${describeError(e)} creating the directory` +
          (d === dir ? '.' : ` ${d}.`));
    }
  }
}

/** Writes all of `chunks` to a new file (failing if it exists) and flushes it to disk. */
async function writeDurably(
    fs: typeof NodeFs, file: string, name: string, chunks: Uint8Array[], step: SaveStep):
    Promise<void> {
  const handle = await inStep(`creating ${name}`, () => fs.promises.open(file, 'wx'));
  try {
    await inStep(`writing ${name}`, async () => {
      for (const chunk of chunks) {
        // A write may be short (a nearly full disk takes what fits without an
        // error); the next one then reports the cause.
        for (let offset = 0; offset < chunk.byteLength;) {
          const {bytesWritten} = await handle.write(chunk, offset, chunk.byteLength - offset);
          if (!(bytesWritten > 0)) throw new Error(`the system wrote no bytes at offset ${offset}`);
          offset += bytesWritten;
        }
      }
      if (saveHook != null) {
        await saveHook(step);
      }
    });
    await inStep(`flushing ${name} to disk`, () => handle.sync());
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/** Flushes a directory's entries (best effort: not possible on every platform). */
async function syncDirectory(fs: typeof NodeFs, dir: string): Promise<void> {
  let handle: NodeFs.promises.FileHandle|undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open or sync directories; the rename is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function toChunks(data: tf.io.WeightData): Uint8Array[] {
  const buffers = Array.isArray(data) ? data : [data];
  return buffers.map(
      (b) => ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) :
                                     new Uint8Array(b));
}

/** What we record about a save's weights in model.json, under {@link RECORD_KEY}. */
interface WeightsRecord {
  /** Number of weight specs in weightsManifest (model and optimizer). */
  count: number;
  /** Total bytes of the weight files. */
  bytes: number;
  /** Each weight file's SHA-256, hex, by its path as written in weightsManifest. */
  sha256: {[path: string]: string};
}

type SavedModelJSON = tf.io.ModelJSON&{[RECORD_KEY]: WeightsRecord};

/** model.json contents: the tfjs format, with the optional fields present only when set. */
function modelJSONFor(
    artifacts: tf.io.ModelArtifacts, weightsManifest: tf.io.WeightsManifestConfig,
    record: WeightsRecord): SavedModelJSON {
  const json: SavedModelJSON = {
    modelTopology: artifacts.modelTopology as {},
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest,
    [RECORD_KEY]: record,
  };
  if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
  if (artifacts.signature != null) json.signature = artifacts.signature;
  if (artifacts.userDefinedMetadata != null) json.userDefinedMetadata = artifacts.userDefinedMetadata;
  if (artifacts.modelInitializer != null) json.modelInitializer = artifacts.modelInitializer;
  if (artifacts.initializerSignature != null) {
    json.initializerSignature = artifacts.initializerSignature;
  }
  return json;
}

/**
 * Files inside `dir` that the current `dir/model.json` references: empty when
 * there is no model.json, null when it exists but cannot be read or parsed.
 * Paths leaving `dir` are never included.
 */
async function referencedFiles(
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
function activeSaves(): Set<string> {
  const global = globalThis as {[ACTIVE_KEY]?: Set<string>};
  return global[ACTIVE_KEY] ?? (global[ACTIVE_KEY] = new Set<string>());
}

function newSaveId(modules: NodeModules): string {
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
async function sweepInterruptedSaves(
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

/** Bytes the weight specs describe, or null when that cannot be known (quantized or strings). */
function expectedByteLength(specs: tf.io.WeightsManifestEntry[]): number|null {
  const sizes: {[dtype: string]: number} = {float32: 4, int32: 4, bool: 1, complex64: 8};
  let total = 0;
  for (const spec of specs) {
    const size = sizes[spec.dtype];
    if (spec.quantization != null || size == null) return null;
    total += size * spec.shape.reduce((a, b) => a * b, 1);
  }
  return total;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const buffer = bytes.buffer as ArrayBuffer;
  return bytes.byteOffset === 0 && bytes.byteLength === buffer.byteLength ?
      buffer :
      buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

function sha256Hex({crypto}: NodeModules, chunks: Uint8Array[]): string {
  const hash = crypto.createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/** Our record in a loaded model.json, null when absent; throws when malformed. */
function readRecord(json: {[key: string]: unknown}, modelJsonPath: string): WeightsRecord|null {
  const record = json[RECORD_KEY] as Partial<WeightsRecord>|undefined;
  if (record === undefined) return null;
  const count = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n >= 0;
  const valid = record != null && typeof record === 'object' && count(record.count) &&
      count(record.bytes) && record.sha256 != null && typeof record.sha256 === 'object' &&
      Object.values(record.sha256).every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h));
  if (!valid) {
    throw new Error(
        `Cannot load model: the field ${RECORD_KEY} in ${modelJsonPath} is malformed: expected ` +
        '{"count": <integer>, "bytes": <integer>, "sha256": {"<weight file>": "<64 hex digits>"}}, ' +
        `received ${JSON.stringify(record)?.slice(0, 200)}.`);
  }
  return record as WeightsRecord;
}

/**
 * A layer in a Keras-style topology whose config names a weight initializer
 * (`kernel_initializer` and the like): a sign that the model has weights.
 */
function layerWithInitializer(node: unknown, depth = 0): {layer: string, key: string}|null {
  if (node == null || typeof node !== 'object' || depth > 64) return null;
  const obj = node as {[key: string]: unknown};
  const config = obj.config as {[key: string]: unknown}|undefined;
  if (typeof obj.class_name === 'string' && config != null && typeof config === 'object') {
    for (const [key, value] of Object.entries(config)) {
      if (/(_i|I)nitializer$/.test(key) && value != null) {
        return {layer: String(config.name ?? obj.class_name), key};
      }
    }
  }
  for (const value of Array.isArray(node) ? node : Object.values(obj)) {
    const found = layerWithInitializer(value, depth + 1);
    if (found != null) return found;
  }
  return null;
}

/** Paths of `fileSystem(...)`: strings, not empty once the `file://` prefix is removed. */
function checkedPaths(path: unknown): string[] {
  const paths: unknown[] = Array.isArray(path) ? path : [path];
  return paths.map((p) => {
    if (typeof p !== 'string') {
      throw new Error(
          'tfv.io.fileSystem: path must be a string (a directory, or a model.json file to load) ' +
          `or an array of strings; received ${p === null ? 'null' : typeof p}` +
          `${Array.isArray(path) ? ' in an array' : ''}.`);
    }
    const stripped = stripScheme(p);
    if (stripped.trim() === '') {
      throw new Error(
          'tfv.io.fileSystem: path must name a directory (to save) or a model.json file or its ' +
          `directory (to load); received ${JSON.stringify(p)}, which is empty` +
          `${p.startsWith(URL_SCHEME) ? ' after the file:// prefix' : ''}. ` +
          "For the current directory, pass '.' explicitly.");
    }
    return stripped;
  });
}

/** IOHandler reading and writing the tfjs layers-model format in a directory. */
class FileSystemHandler implements tf.io.IOHandler {
  constructor(private readonly paths: string[]) {}

  private singlePath(action: string): string {
    if (this.paths.length !== 1) {
      throw new Error(
          `tfv.io.fileSystem can ${action} only one path; received ${this.paths.length}: ` +
          `${JSON.stringify(this.paths)}. Pass the directory or its model.json.`);
    }
    return this.paths[0];
  }

  async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
    const modules = requireNodeModules();
    const {fs, path} = modules;
    if (artifacts.modelTopology instanceof ArrayBuffer) {
      throw new Error('tfv.io.fileSystem cannot save a binary (GraphDef) model topology.');
    }
    const dir = path.resolve(this.singlePath('save to'));
    await ensureDirectory(modules, dir);
    const modelJsonPath = path.join(dir, MODEL_JSON);
    const previous = await referencedFiles(modules, dir, modelJsonPath) ?? [];

    const id = newSaveId(modules);
    const weightsName = `weights.${id}.bin`;
    const weightsPath = path.join(dir, weightsName);
    const tmpJsonName = `${MODEL_JSON}.${id}.tmp`;
    const tmpJsonPath = path.join(dir, tmpJsonName);
    let manifest: tf.io.WeightsManifestConfig = [];
    const record: WeightsRecord = {count: 0, bytes: 0, sha256: {}};
    const created: string[] = [];
    activeSaves().add(id);
    try {
      try {
        if (artifacts.weightData != null) {
          const chunks = toChunks(artifacts.weightData);
          record.count = artifacts.weightSpecs?.length ?? 0;
          record.bytes = chunks.reduce((n, c) => n + c.byteLength, 0);
          record.sha256[weightsName] = sha256Hex(modules, chunks);
          created.push(weightsPath);
          await writeDurably(fs, weightsPath, weightsName, chunks, 'weights');
          manifest = [{paths: [weightsName], weights: artifacts.weightSpecs ?? []}];
        }
        const text = JSON.stringify(modelJSONFor(artifacts, manifest, record));
        created.push(tmpJsonPath);
        await writeDurably(fs, tmpJsonPath, tmpJsonName, [new TextEncoder().encode(text)], 'model.json');
        await syncDirectory(fs, dir);
        if (artifacts.weightData != null) {
          await inStep(`checking ${weightsName} before the commit`, async () => {
            if (!(await fs.promises.lstat(weightsPath).catch(() => null))?.isFile()) {
              throw new Error(`${weightsName} was removed by another process`);
            }
          });
        }
        await inStep(`renaming ${tmpJsonName} onto ${MODEL_JSON}`,
                     () => fs.promises.rename(tmpJsonPath, modelJsonPath));  // the commit point
      } catch (e) {
        await Promise.all(created.map((f) => fs.promises.rm(f, {force: true}).catch(() => undefined)));
        throw saveFailure(dir, e);
      }
      await syncDirectory(fs, dir);
      if (saveHook != null) await saveHook('committed');
      // The new model is committed; files only the old one used are garbage now.
      for (const old of previous) {
        if (old !== weightsPath) {
          await fs.promises.rm(old, {force: true}).catch(() => undefined);
        }
      }
      await sweepInterruptedSaves(modules, dir, modelJsonPath, [weightsPath]);
    } finally {
      activeSaves().delete(id);
    }
    return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const modules = requireNodeModules();
    const {fs, path} = modules;
    const given = path.resolve(this.singlePath('load from'));
    const notFound = async (p: string, e: unknown, what: string) => {
      const code = errorCode(e);
      if (code === 'ENOENT') return new Error(`Cannot load model: ${p} does not exist.`);
      if (code === 'ENOTDIR') {
        const file = await nonDirectoryOnPath(modules, path.dirname(p));
        return new Error(`Cannot load model: ${p} does not exist: ` +
                         `${file ?? 'a component of the path'} is a file, not a directory (ENOTDIR).`);
      }
      return new Error(`Cannot load model: ${describeError(e)} ${what} ${p}.`);
    };
    let modelJsonPath = given;
    let info: NodeFs.Stats;
    try {
      info = await fs.promises.stat(given);
    } catch (e) {
      throw await notFound(given, e, 'examining');
    }
    if (info.isDirectory()) {
      modelJsonPath = path.join(modelJsonPath, MODEL_JSON);
    }
    let text: string;
    try {
      text = await fs.promises.readFile(modelJsonPath, 'utf8');
    } catch (e) {
      throw await notFound(modelJsonPath, e, 'reading');
    }
    let json: tf.io.ModelJSON&{[key: string]: unknown};
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`Cannot load model: ${modelJsonPath} is not valid JSON (${message(e)}).`);
    }
    if (json == null || typeof json !== 'object' || json.modelTopology == null) {
      throw new Error(`Cannot load model: ${modelJsonPath} has no modelTopology.`);
    }
    const record = readRecord(json, modelJsonPath);
    const manifest: unknown = json.weightsManifest;
    if (manifest != null && !Array.isArray(manifest)) {
      throw new Error(
          `Cannot load model: weightsManifest in ${modelJsonPath} is not an array ` +
          `(received ${typeof manifest}).`);
    }
    const groups = (manifest ?? []) as Array<Partial<tf.io.WeightsManifestConfig[number]>|null>;
    const listsWeights = groups.some(
        (g) => (Array.isArray(g?.paths) && g!.paths.length > 0) ||
            (Array.isArray(g?.weights) && g!.weights.length > 0));
    if (!listsWeights) {
      const state = manifest == null ? 'has no weightsManifest' : 'has an empty weightsManifest';
      if (record != null && record.count > 0) {
        throw new Error(
            `Cannot load model: ${modelJsonPath} ${state}, but it was saved with ${record.count} ` +
            `weights (${record.bytes} bytes); the file was edited or damaged, and loading it ` +
            'would silently start from freshly initialised weights. Save the model again.');
      }
      const hint = record == null ? layerWithInitializer(json.modelTopology) : null;
      if (hint != null) {
        throw new Error(
            `Cannot load model: ${modelJsonPath} ${state}, but its topology has weights ` +
            `(layer "${hint.layer}" has a ${hint.key}); loading it would silently start from ` +
            'freshly initialised weights.');
      }
      // Nothing says the model has weights: hand tfjs an empty set, so that
      // strict loading still fails if the topology builds any.
      json = {...json, weightsManifest: []};
    }
    const dir = path.dirname(modelJsonPath);
    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
      const specs: tf.io.WeightsManifestEntry[] = [];
      const files: Array<{name: string, file: string, bytes: Uint8Array}> = [];
      for (const group of manifest) {
        if (group == null || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
          throw new Error(
              `Cannot load model: weightsManifest in ${modelJsonPath} has a group without ` +
              `"paths" and "weights" arrays (received ${JSON.stringify(group)?.slice(0, 200)}).`);
        }
        for (const p of group.paths) {
          const file = path.resolve(dir, p);
          let bytes: Uint8Array;
          try {
            bytes = await fs.promises.readFile(file);
          } catch (e) {
            throw errorCode(e) === 'ENOENT' ?
                new Error(`Cannot load model: weight file ${file} listed in ${modelJsonPath} does not exist.`) :
                new Error(`Cannot load model: ${describeError(e)} reading weight file ${file}.`);
          }
          files.push({name: p, file, bytes});
        }
        specs.push(...group.weights);
      }
      const expected = expectedByteLength(specs);
      const actual = files.reduce((n, f) => n + f.bytes.byteLength, 0);
      if (expected != null && expected !== actual) {
        throw new Error(
            `Cannot load model: the weight files of ${modelJsonPath} hold ${actual} bytes ` +
            `but its weightsManifest describes ${expected}.`);
      }
      if (record != null) {
        if (record.count !== specs.length || record.bytes !== actual) {
          throw new Error(
              `Cannot load model: ${modelJsonPath} lists ${specs.length} weights in ${actual} ` +
              `bytes, but its ${RECORD_KEY} records ${record.count} weights in ${record.bytes} ` +
              'bytes: the file was edited or mixed with another save.');
        }
        for (const {name, file, bytes} of files) {
          const recorded = record.sha256[name];
          if (recorded == null) {
            throw new Error(
                `Cannot load model: ${modelJsonPath} records no SHA-256 for its weight file ` +
                `${name} (in ${RECORD_KEY}.sha256); the file list was edited.`);
          }
          const hash = sha256Hex(modules, [bytes]);
          if (hash !== recorded) {
            throw new Error(
                `Cannot load model: weight file ${file} is corrupted: its SHA-256 is ${hash}, ` +
                `but ${modelJsonPath} records ${recorded}.`);
          }
        }
      }
      const buffers = files.map((f) => toArrayBuffer(f.bytes));
      return [specs, buffers.length === 1 ? buffers[0] : buffers.length === 0 ? new ArrayBuffer(0) : buffers];
    });
  }
}

/** `file:///abs` and `file://rel` become `/abs` and `rel`; `file:///C:/x` becomes `C:/x`. */
function stripScheme(p: string): string {
  if (!p.startsWith(URL_SCHEME)) return p;
  const rest = p.slice(URL_SCHEME.length);
  return /^\/[A-Za-z]:[\\/]/.test(rest) ? rest.slice(1) : rest;
}

/**
 * An IOHandler that saves a model to a directory and loads it back, in the
 * format tfjs-node writes (`model.json` plus binary weight files).
 *
 * ```js
 * await model.save(tfv.io.fileSystem('out/vae'));
 * const same = await tf.loadLayersModel(tfv.io.fileSystem('out/vae/model.json'));
 * ```
 *
 * Saves are atomic: the weights and the JSON are written to new files,
 * flushed, and the JSON renamed onto `model.json`, so an interrupted save
 * (an error, a full disk, a killed process) leaves the previous model in the
 * directory intact and loadable. A failed save names the step and the
 * system's error code (`permission denied (EACCES)`, `read-only file system
 * (EROFS)`, `no space left on device (ENOSPC)`, ...).
 *
 * What is recorded: besides the tfjs fields, `model.json` holds
 * `tfvWeights` (`count` of weights, `bytes`, and the SHA-256 of each weight
 * file), a field tfjs's own loaders ignore.
 *
 * What is checked on load: each weight file exists, has the size the manifest
 * describes and the recorded SHA-256 (corruption is an error naming the file
 * and both hashes); a `model.json` recording weights but listing none is an
 * error, not a model with fresh weights. Files saved without `tfvWeights`
 * (older versions, other tools) load without the hash check.
 *
 * What is cleaned: after the commit, the weight files the previous
 * `model.json` referenced, and what earlier interrupted saves left in the
 * directory — only files named like ours (`weights.<id>.bin`,
 * `model.json.<id>.tmp`) that the new `model.json` does not reference and
 * that no running save can still be writing (their writer's process on this
 * host is gone, or they were last modified more than an hour ago). Other
 * files are never touched.
 *
 * After `import 'tfjs-variational'` in Node the same handler serves
 * `'file://…'` URLs (see {@link registerFileSystemRouter}).
 *
 * @param path A directory (to save, created if needed) or a `model.json` file
 *   or its directory (to load); a `file://` prefix is accepted. Must not be
 *   empty: use `'.'` for the current directory.
 * @returns An IOHandler for `model.save` and `tf.loadLayersModel`.
 */
export function fileSystem(path: string|string[]): tf.io.IOHandler {
  return new FileSystemHandler(checkedPaths(path));
}

function isFileUrl(url: string|string[]): boolean {
  return Array.isArray(url) ? url.length > 0 && url.every((u) => u.startsWith(URL_SCHEME)) :
                              url.startsWith(URL_SCHEME);
}

/** True while one of our routers asks the registry which other routers claim a URL. */
let consultingOthers = false;

type Router = (url: string|string[], loadOptions?: tf.io.LoadOptions) => tf.io.IOHandler|null;

/**
 * A router claiming `file://` URLs unless another router (such as
 * tfjs-node's) claims them too: tfjs rejects a URL claimed twice, and routers
 * are consulted at call time, so deferring works whatever the order of
 * registration.
 */
function makeRouter(kind: 'save'|'load'): Router {
  return (url, loadOptions) => {
    if (consultingOthers || !isFileUrl(url)) {
      return null;
    }
    consultingOthers = true;
    let others: tf.io.IOHandler[];
    try {
      others = kind === 'save' ? tf.io.getSaveHandlers(url) : tf.io.getLoadHandlers(url, loadOptions);
    } finally {
      consultingOthers = false;
    }
    return others.length > 0 ? null : fileSystem(url);
  };
}

/** Marks each tfjs-core copy our routers were added to (shared by every copy of this package). */
const REGISTERED_KEY = Symbol.for('tfjs-variational.io.fileSystemRouter');

/**
 * Registers save and load routers so that `model.save('file://dir')` and
 * `tf.loadLayersModel('file://dir/model.json')` work in Node without
 * `@tensorflow/tfjs-node`. Called when the package is imported; calling it
 * again does nothing. In a browser nothing is registered. When another router
 * also claims a `file://` URL, ours steps aside.
 *
 * @returns Whether the routers are registered (false outside Node).
 */
export function registerFileSystemRouter(): boolean {
  if (getNodeModules() == null) {
    return false;
  }
  const global = globalThis as {[REGISTERED_KEY]?: WeakSet<object>};
  const registered = global[REGISTERED_KEY] ?? (global[REGISTERED_KEY] = new WeakSet<object>());
  // One entry per tfjs-core instance: its registry is what must hold one router.
  if (!registered.has(tf.io.registerSaveRouter)) {
    registered.add(tf.io.registerSaveRouter);
    type TfRouter = Parameters<typeof tf.io.registerSaveRouter>[0];
    tf.io.registerSaveRouter(makeRouter('save') as TfRouter);
    tf.io.registerLoadRouter(makeRouter('load') as TfRouter);
  }
  return true;
}
