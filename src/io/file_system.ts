/**
 * A `file://` IOHandler for Node.js without `@tensorflow/tfjs-node`.
 *
 * Layout on disk (the tfjs layers-model format):
 *
 *     dir/model.json              topology, training config, weightsManifest
 *     dir/weights.<id>.bin        weight bytes named in weightsManifest
 *
 * Saving is atomic: the weights go to a file with a fresh name and the JSON
 * to `model.json.<id>.tmp`; both are flushed to disk, then the temporary JSON
 * is renamed onto `model.json`. That rename is the commit point, so a crash or
 * error at any moment leaves either the previous save or the new one, never a
 * mixture. Weight files the previous `model.json` referenced are deleted after
 * the commit.
 *
 * Node's `fs` and `path` are looked up at run time (never imported), because
 * the same source is bundled for browsers, where the router is not registered.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as NodeFs from 'fs';
import type * as NodePath from 'path';

const URL_SCHEME = 'file://';
const MODEL_JSON = 'model.json';

interface NodeModules {
  fs: typeof NodeFs;
  path: typeof NodePath;
}

let nodeModules: NodeModules|null|undefined;

/**
 * Node's `fs` and `path`, or null outside Node. Uses
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
      nodeModules = {fs: load('fs') as typeof NodeFs, path: load('path') as typeof NodePath};
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
  return modules;
}

/** Steps of a save at which tests can inject a failure. */
export type SaveStep = 'weights'|'model.json';
type SaveHook = (step: SaveStep) => void|Promise<void>;
let saveHook: SaveHook|null = null;

/**
 * Installs (or with `null` removes) a function called during each save after a
 * file's bytes are written and before they are flushed. A hook that throws
 * simulates a disk error at that point. For tests only.
 *
 * @internal
 */
export function setSaveHookForTesting(hook: SaveHook|null): void {
  saveHook = hook;
}

function errorCode(e: unknown): string|undefined {
  return (e as {code?: string}|null)?.code;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Writes `chunks` to a new file (failing if it exists) and flushes it to disk. */
async function writeDurably(
    fs: typeof NodeFs, file: string, chunks: Uint8Array[], step: SaveStep): Promise<void> {
  const handle = await fs.promises.open(file, 'wx');
  try {
    for (const chunk of chunks) {
      await handle.write(chunk);
    }
    if (saveHook != null) {
      await saveHook(step);
    }
    await handle.sync();
  } finally {
    await handle.close();
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

/** model.json contents: the tfjs format, with the optional fields present only when set. */
function modelJSONFor(
    artifacts: tf.io.ModelArtifacts, weightsManifest: tf.io.WeightsManifestConfig): tf.io.ModelJSON {
  const json: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as {},
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest,
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
 * Files inside `dir` that the current `dir/model.json` references; empty when
 * there is no readable model.json. Paths leaving `dir` are never included.
 */
async function referencedFiles(
    {fs, path}: NodeModules, dir: string, modelJsonPath: string): Promise<string[]> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await fs.promises.readFile(modelJsonPath, 'utf8')).weightsManifest;
  } catch {
    return [];
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
    const mkdirError = await fs.promises.mkdir(dir, {recursive: true}).then(() => null, (e) => e);
    const dirStat = await fs.promises.stat(dir).catch(() => null);
    if (dirStat == null || !dirStat.isDirectory()) {
      throw new Error(
          `Cannot save model to ${dir}: it is not a directory` +
          (mkdirError != null ? ` (${message(mkdirError)}).` : '.'));
    }
    const modelJsonPath = path.join(dir, MODEL_JSON);
    const previous = await referencedFiles(modules, dir, modelJsonPath);

    const id = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
    const weightsName = `weights.${id}.bin`;
    const weightsPath = path.join(dir, weightsName);
    const tmpJsonPath = path.join(dir, `${MODEL_JSON}.${id}.tmp`);
    let manifest: tf.io.WeightsManifestConfig = [];
    const created: string[] = [];
    try {
      if (artifacts.weightData != null) {
        created.push(weightsPath);
        await writeDurably(fs, weightsPath, toChunks(artifacts.weightData), 'weights');
        manifest = [{paths: [weightsName], weights: artifacts.weightSpecs ?? []}];
      }
      const text = JSON.stringify(modelJSONFor(artifacts, manifest));
      created.push(tmpJsonPath);
      await writeDurably(fs, tmpJsonPath, [new TextEncoder().encode(text)], 'model.json');
      await syncDirectory(fs, dir);
      await fs.promises.rename(tmpJsonPath, modelJsonPath);  // the commit point
    } catch (e) {
      await Promise.all(created.map((f) => fs.promises.rm(f, {force: true}).catch(() => undefined)));
      throw new Error(`Saving model to ${dir} failed, its earlier contents are unchanged: ${message(e)}`);
    }
    await syncDirectory(fs, dir);
    // The new model is committed; files only the old one used are garbage now.
    for (const old of previous) {
      if (old !== weightsPath) {
        await fs.promises.rm(old, {force: true}).catch(() => undefined);
      }
    }
    return {modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts)};
  }

  async load(): Promise<tf.io.ModelArtifacts> {
    const {fs, path} = requireNodeModules();
    let modelJsonPath = path.resolve(this.singlePath('load from'));
    const info = await fs.promises.stat(modelJsonPath).catch(() => null);
    if (info == null) {
      throw new Error(`Cannot load model: ${modelJsonPath} does not exist.`);
    }
    if (info.isDirectory()) {
      modelJsonPath = path.join(modelJsonPath, MODEL_JSON);
    }
    let text: string;
    try {
      text = await fs.promises.readFile(modelJsonPath, 'utf8');
    } catch (e) {
      throw new Error(errorCode(e) === 'ENOENT' ?
          `Cannot load model: ${modelJsonPath} does not exist.` :
          `Cannot read ${modelJsonPath}: ${message(e)}`);
    }
    let json: tf.io.ModelJSON;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(`Cannot load model: ${modelJsonPath} is not valid JSON (${message(e)}).`);
    }
    if (json == null || typeof json !== 'object' || json.modelTopology == null) {
      throw new Error(`Cannot load model: ${modelJsonPath} has no modelTopology.`);
    }
    const dir = path.dirname(modelJsonPath);
    return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
      if (!Array.isArray(manifest)) {
        throw new Error(`Cannot load model: weightsManifest in ${modelJsonPath} is not an array.`);
      }
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: ArrayBuffer[] = [];
      for (const group of manifest) {
        for (const p of group.paths) {
          const file = path.resolve(dir, p);
          const bytes = await fs.promises.readFile(file).catch((e: unknown) => {
            throw new Error(errorCode(e) === 'ENOENT' ?
                `Cannot load model: weight file ${file} listed in ${modelJsonPath} does not exist.` :
                `Cannot read weight file ${file}: ${message(e)}`);
          });
          buffers.push(toArrayBuffer(bytes));
        }
        specs.push(...group.weights);
      }
      const expected = expectedByteLength(specs);
      const actual = buffers.reduce((n, b) => n + b.byteLength, 0);
      if (expected != null && expected !== actual) {
        throw new Error(
            `Cannot load model: the weight files of ${modelJsonPath} hold ${actual} bytes ` +
            `but its weightsManifest describes ${expected}.`);
      }
      return [specs, buffers.length === 1 ? buffers[0] : buffers];
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
 * Saves are atomic: an interrupted save leaves the previous model in the
 * directory intact and loadable. After `import 'tfjs-variational'` in Node the
 * same handler serves `'file://…'` URLs (see {@link registerFileSystemRouter}).
 *
 * @param path A directory (to save, created if needed) or a `model.json` file
 *   or its directory (to load); a `file://` prefix is accepted.
 * @returns An IOHandler for `model.save` and `tf.loadLayersModel`.
 */
export function fileSystem(path: string|string[]): tf.io.IOHandler {
  const paths = Array.isArray(path) ? path : [path];
  return new FileSystemHandler(paths.map(stripScheme));
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
