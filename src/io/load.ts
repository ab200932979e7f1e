/**
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
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as NodeFs from 'fs';

import {describeError, errorCode, message} from './errors';
import {MODEL_JSON, RECORD_KEY, sha256Hex, WeightsRecord} from './format';
import type {NodeModules} from './node_modules';

/** The nearest ancestor of `p` (or `p` itself) that exists and is not a directory, if any. */
async function nonDirectoryOnPath({fs, path}: NodeModules, p: string): Promise<string|null> {
  for (let current = p;; current = path.dirname(current)) {
    const info = await fs.promises.stat(current).catch(() => null);
    if (info != null) return info.isDirectory() ? null : current;
    if (path.dirname(current) === current) return null;
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

/**
 * Loads the model at `given` (an absolute path: a `model.json` file or its
 * directory), checking its weight files against the manifest and our record.
 */
export async function loadModel(modules: NodeModules, given: string): Promise<tf.io.ModelArtifacts> {
  const {fs, path} = modules;
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
