/**
 * The kernels that move or share memory without arithmetic: `GatherV2` and
 * `Slice` as row copies of the wasm heap, `Identity` and same-dtype `Cast` as
 * shared memory.
 */
import * as tf from '@tensorflow/tfjs-core';

import {stats} from './kernel_stats';
import {HEAP_DTYPES, KernelParams, WasmBackend} from './wasm_backend';

/**
 * `GatherV2` without batch axes as row copies. The wasm kernel moves ~70 ns
 * per element (12 ms for the 256×784 batch `model.fit` gathers from its
 * inputs and again from its targets every step); copying `inner`-long runs of
 * the heap takes 0.3 ms.
 */
export function gather(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {inputs, attrs} = params;
  const backend = params.backend as Partial<WasmBackend>;
  const {x, indices} = inputs;
  if (x == null || indices == null || (attrs?.batchDims ?? 0) !== 0 || indices.dtype !== 'int32' ||
      !HEAP_DTYPES.includes(x.dtype) || backend.makeOutput == null || backend.typedArrayFromHeap == null) {
    return original.kernelFunc(params);
  }
  // Anything invalid (an axis out of range, an index outside [0, dim - 1])
  // goes to the wasm kernel, which throws tfjs's error for it.
  const axisParam = attrs?.axis as number;
  if (!Number.isInteger(axisParam) || axisParam < -x.shape.length || axisParam >= x.shape.length) {
    return original.kernelFunc(params);
  }
  const axis = tf.util.parseAxisParam(axisParam, x.shape)[0];
  const dim = x.shape[axis];
  const idx = backend.typedArrayFromHeap(indices).slice();
  for (const i of idx) {
    if (!(i >= 0 && i <= dim - 1)) return original.kernelFunc(params);
  }
  if (tf.util.sizeFromShape(x.shape) === 0) {
    // Nothing to copy. (The wasm kernel returns its flattened 4-D shape here instead of the gather's.)
    const shape = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, axis, 0).outputShape;
    stats.copied++;
    return backend.makeOutput(shape, x.dtype);
  }
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
  // Byte offsets after makeOutput; one view of the whole heap, rows moved with copyWithin (no view per row).
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  const bytes = from.BYTES_PER_ELEMENT;
  const heap = new Uint8Array(from.buffer);
  const rowBytes = inner * bytes;
  let o = to.byteOffset;
  for (let b = 0; b < outer; b++) {
    const base = from.byteOffset + b * dim * rowBytes;
    for (let j = 0; j < idx.length; j++) {
      const start = base + idx[j] * rowBytes;
      heap.copyWithin(o, start, start + rowBytes);
      o += rowBytes;
    }
  }
  stats.copied++;
  return out;
}

/**
 * `Slice` without copying the whole input out of the heap first. The wasm
 * kernel reads all of `x` into JavaScript before copying the slice, so a batch
 * of 256 rows sliced from 10,000×784 images costs 14 ms (and grows with the
 * data set); copying only the slice's rows takes 0.1 ms.
 */
export function slice(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {inputs, attrs} = params;
  const backend = params.backend as Partial<WasmBackend>;
  const {x} = inputs;
  if (x == null || attrs == null || !HEAP_DTYPES.includes(x.dtype) || backend.makeOutput == null ||
      backend.typedArrayFromHeap == null) {
    return original.kernelFunc(params);
  }
  // tfjs's parsing and checks (those of the cpu kernel: the wasm kernel
  // makes none, reading a copy of x in JavaScript, where an overflowing
  // slice reads undefined instead of the neighbouring tensors' memory).
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number|number[], attrs.size as number|number[]);
  tf.slice_util.assertParamsValid(x, begin, size);
  const rank = x.shape.length;
  for (let d = 0; d < rank; d++) {
    // What assertParamsValid lets through (negative or fractional begins or sizes) stays the wasm kernel's.
    if (!(Number.isInteger(begin[d]) && Number.isInteger(size[d]) && begin[d] >= 0 && size[d] >= 0 &&
          begin[d] + size[d] <= x.shape[d])) {
      return original.kernelFunc(params);
    }
  }
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  if (rank === 0) {
    // A scalar's slice is the scalar. (tfjs's computeFlatOffset gives 1 for no axes: the wasm and cpu
    // kernels read the element after it.)
    to[0] = from[0];
    stats.copied++;
    return out;
  }
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const start = tf.slice_util.computeFlatOffset(begin, strides);
    to.set(from.subarray(start, start + to.length));
    stats.copied++;
    return out;
  }
  // Copy runs along the last axis; `index` walks the slice's other axes like an odometer.
  const run = size[rank - 1];
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let o = 0; o < to.length; o += run) {
    let start = begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) start += (begin[d] + index[d]) * strides[d];
    to.set(from.subarray(start, start + run), o);
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d] < size[d]) break;
      index[d] = 0;
    }
  }
  stats.copied++;
  return out;
}

/**
 * `Identity`, and `Cast` to the dtype a tensor already has, share the input's
 * memory (reference counted, as the wasm `Reshape` kernel and the cpu
 * backend's identity do) instead of copying it: tfjs-layers and the gradient
 * code call them some thirty times per training step of a small VAE, on
 * tensors up to 784×512 — 2 ms of copying per step. Kernels never write into
 * their inputs, so sharing is safe; other casts keep the wasm kernel.
 */
function shareData(params: KernelParams): tf.TensorInfo {
  const x = params.inputs.x!;
  (params.backend as unknown as {incRef(dataId: tf.DataId): void}).incRef(x.dataId);
  stats.copied++;
  return {dataId: x.dataId, shape: x.shape, dtype: x.dtype};
}

export function identity(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  if (x == null || !HEAP_DTYPES.includes(x.dtype) || typeof (params.backend as {incRef?: unknown}).incRef !== 'function') {
    return original.kernelFunc(params);
  }
  return shareData(params);
}

export function cast(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  // `identity` falls back to `original`, here the wasm Cast kernel.
  return params.attrs?.dtype === params.inputs.x?.dtype ? identity(original, params) : original.kernelFunc(params);
}
