/**
 * Saving is atomic: the weights go to a file with a fresh name and the JSON
 * to `model.json.<id>.tmp`; both are flushed to disk, then the temporary JSON
 * is renamed onto `model.json`. That rename is the commit point, so a crash or
 * error at any moment leaves either the previous save or the new one, never a
 * mixture. Weight files the previous `model.json` referenced are deleted after
 * the commit. A failed save reports the step and the system's error code
 * (EACCES, EROFS, ENOSPC, ENOTDIR, EEXIST, ...).
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as NodeFs from 'fs';

import {describeError, errorCode, message} from './errors';
import {MODEL_JSON, RECORD_KEY, sha256Hex, WeightsRecord} from './format';
import type {NodeModules} from './node_modules';
import {activeSaves, newSaveId, referencedFiles, sweepInterruptedSaves} from './sweep';

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
 * Saves `artifacts` into the directory `dir` (an absolute path; created if
 * needed): the weights and the JSON to new files, flushed, then the JSON
 * renamed onto `model.json`; afterwards the files only the previous save used,
 * and what interrupted saves left (`sweep.ts`), are removed.
 */
export async function saveModel(
    modules: NodeModules, dir: string, artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
  const {fs, path} = modules;
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
