/**
 * The noise sources of the library's stochastic layers: standard normal
 * draws and random signs, seeded or not. Every weight-noise draw of the
 * Bayesian layers goes through these two functions.
 *
 * Both come from one counter-based generator (Threefry-2x32-20, normals by
 * Box–Muller; `src/perf/random_generator.ts`), run by a small WebAssembly
 * SIMD module of our own where the engine has WebAssembly SIMD and by plain
 * JavaScript giving the same bits elsewhere. A draw depends only on the seed
 * and the element's index: the same seed gives the same tensor on every
 * backend, and a longer draw with the same seed starts with the shorter one.
 * Normals and signs of one seed come from separate streams (independent).
 * Without a seed, the key is taken from `Math.random`.
 *
 * Cost on the wasm backend for 784×512 normals: about 2.3 ms, written straight
 * into the tensor's memory, against 12–20 ms for `tf.randomNormal`, which
 * draws in JavaScript one element at a time (see docs/performance.md).
 */
import * as tf from '@tensorflow/tfjs-core';

import {
  fillRandomSigns, fillRandomSignsInMemory, fillStandardNormal, fillStandardNormalInMemory, keyFromSeed, RandomKey, randomKey,
} from '../perf/random_generator';

/** The parts of tfjs's wasm backend used to draw straight into a new tensor's memory. */
interface WasmBackendLike {
  wasm?: {asm?: {memory?: unknown}; wasmMemory?: unknown};
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array|Int32Array|Uint8Array;
  disposeData(dataId: tf.DataId, force?: boolean): boolean|void;
}

type Fill = (out: Float32Array, key: RandomKey) => void;
type FillInMemory = (memory: WebAssembly.Memory, out: Float32Array, key: RandomKey) => boolean;

/**
 * A float32 tensor of `shape` holding the key's draws. On the wasm backend
 * the generator writes into the new tensor's memory (no copies); elsewhere
 * into an array that becomes the tensor. The values are the same either way.
 */
function drawTensor(shape: number[], key: RandomKey, fill: Fill, fillInMemory: FillInMemory): tf.Tensor {
  const engine = tf.engine();
  const size = tf.util.sizeFromShape(shape);
  if (engine.backendName === 'wasm' && size > 0) {
    const backend = engine.backend as unknown as WasmBackendLike;
    const memory = backend.wasm?.asm?.memory ?? backend.wasm?.wasmMemory;
    if (memory instanceof WebAssembly.Memory && typeof backend.makeOutput === 'function') {
      const info = backend.makeOutput(shape, 'float32');
      const view = backend.typedArrayFromHeap(info);
      if (view instanceof Float32Array && fillInMemory(memory, view, key)) {
        return engine.makeTensorFromTensorInfo(info, engine.backend);
      }
      backend.disposeData(info.dataId, true);
    }
  }
  const values = new Float32Array(size);
  fill(values, key);
  return tf.tensor(values, shape, 'float32');
}

function checkShape(where: string, shape: number[]): number {
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${where}: expected shape to be an array of non-negative integers. Received: shape=${JSON.stringify(shape)}`);
  }
  return tf.util.sizeFromShape(shape);
}

/**
 * Standard normal draws `N(0, 1)` of `shape` (float32); the same `seed` (a
 * non-negative integer) gives the same draws. Values lie within ±6.8 (the
 * Box–Muller radius of the smallest uniform, 2⁻³³: a truncation of
 * probability 10⁻¹¹).
 */
export function standardNormal(shape: number[], seed?: number): tf.Tensor {
  checkShape('standardNormal', shape);
  return drawTensor(shape, seed == null ? randomKey() : keyFromSeed(seed), fillStandardNormal, fillStandardNormalInMemory);
}

/**
 * Independent random signs of `shape` (float32), each +1 or −1 with
 * probability ½ (never 0); the same `seed` gives the same signs.
 */
export function randomSigns(shape: number[], seed?: number): tf.Tensor {
  checkShape('randomSigns', shape);
  return drawTensor(shape, seed == null ? randomKey() : keyFromSeed(seed), fillRandomSigns, fillRandomSignsInMemory);
}
