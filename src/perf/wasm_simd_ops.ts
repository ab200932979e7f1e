/**
 * The other kernels of the SIMD module (`simd_kernels.wat`) on the wasm
 * backend: `Transpose` of the last two axes, `Sum` over leading axes and
 * `Softplus`.
 */
import * as tf from '@tensorflow/tfjs-core';

import {stats} from './kernel_stats';
import {heapOffset, simdKernelsFor, WasmBackendLike} from './simd_kernels';
import {HEAP_DTYPES, KernelParams} from './wasm_backend';

/**
 * `Transpose` of the last two axes (a batch of matrices, as every transposed
 * product needs) by 4×4 SIMD tiles: 0.75 ms for 256×784 in the wasm kernel,
 * which walks the output element by element; other permutations keep the
 * wasm kernel. Bits are copied, so the result is exact.
 */
export function transpose(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  const perm = params.attrs?.perm as number[]|undefined;
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (x != null && perm != null && HEAP_DTYPES.includes(x.dtype) && tf.util.sizeFromShape(x.shape) === 0 &&
      isPermutation(perm, x.shape.length)) {
    // Nothing to move. (The wasm kernel traps, 'divide by zero', on a 0-sized axis.)
    stats.copied++;
    return backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  }
  if (simd == null || x == null || perm == null || (x.dtype !== 'float32' && x.dtype !== 'int32') ||
      !swapsLastTwoAxes(perm, x.shape.length)) {
    return original.kernelFunc(params);
  }
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  const size = tf.util.sizeFromShape(x.shape);
  if (size > 0) {
    const from = heapOffset(backend, x);
    const to = heapOffset(backend, out);
    const matrixBytes = rows * cols * 4;
    for (let b = 0; b < size / (rows * cols); b++) {
      simd.transpose(from + b * matrixBytes, to + b * matrixBytes, rows, cols);
    }
  }
  stats.simd++;
  return out;
}

/** Whether `perm` lists each of 0, …, rank − 1 once. */
function isPermutation(perm: number[], rank: number): boolean {
  if (!Array.isArray(perm) || perm.length !== rank) return false;
  const seen = new Set<number>();
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen.has(p)) return false;
    seen.add(p);
  }
  return true;
}

function swapsLastTwoAxes(perm: number[], rank: number): boolean {
  if (rank < 2 || perm.length !== rank) return false;
  for (let i = 0; i < rank - 2; i++) {
    if (perm[i] !== i) return false;
  }
  return perm[rank - 2] === rank - 1 && perm[rank - 1] === rank - 2;
}

/**
 * `Sum` over leading axes (the bias gradients of every dense layer: a
 * `[batch, units]` gradient summed over the batch) as SIMD column sums in
 * one pass over the input. The wasm kernel transposes the input first and
 * then sums rows: 0.9 ms for 256×784 against 0.2 ms. Sums over other axes
 * keep the wasm kernel. Each column is summed in row order, as the cpu
 * backend does; the wasm kernel's order differs, so results agree up to
 * float32 rounding.
 */
export function sum(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  const attrs = params.attrs ?? {};
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (simd == null || x == null || (x.dtype !== 'float32' && x.dtype !== 'int32')) return original.kernelFunc(params);
  const axisParam = attrs.axis as number|number[]|null|undefined;
  // No axis: all of them (tfjs's parseAxisParam).
  const listed = axisParam == null ? [] : Array.isArray(axisParam) ? axisParam : [axisParam];
  // Axes out of range or not integers: the wasm kernel throws tfjs's error. Repeated axes: its result.
  if (listed.some((a) => !Number.isInteger(a) || a < -x.shape.length || a >= x.shape.length)) {
    return original.kernelFunc(params);
  }
  const parsed = tf.util.parseAxisParam(axisParam as number|number[], x.shape);
  const axes = [...new Set(parsed)].sort((p, q) => p - q);
  const reduced = axes.length;
  // Repeated axes: the wasm kernel's result (its own shapes), whatever it is.
  if (reduced !== parsed.length) return original.kernelFunc(params);
  if (tf.util.sizeFromShape(x.shape) === 0) {
    // Sums of no elements are 0. (The wasm kernel leaves its output uninitialised here, or traps
    // transposing a 0-sized axis.)
    const [kept] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const out = backend.makeOutput(attrs.keepDims === true ? tf.backend_util.expandShapeToKeepDim(kept, axes) : kept,
                                   x.dtype);
    backend.typedArrayFromHeap(out).fill(0);
    stats.simd++;
    return out;
  }
  if (x.dtype !== 'float32' || x.shape.length < 2 || reduced === 0 || reduced === x.shape.length ||
      axes.some((a, i) => a !== i)) {
    return original.kernelFunc(params);
  }
  const rows = tf.util.sizeFromShape(x.shape.slice(0, reduced));
  const cols = tf.util.sizeFromShape(x.shape.slice(reduced));
  const kept = x.shape.slice(reduced);
  const out = backend.makeOutput(attrs.keepDims === true ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  if (cols > 0) simd.colsum(heapOffset(backend, x), heapOffset(backend, out), rows, cols);
  stats.simd++;
  return out;
}

/**
 * `Softplus` by the SIMD module: max(x, 0) + log1p(exp(−|x|)) with its own
 * vectorised exp and log1p (`simd_kernels.wat`), within a few float32 ulps
 * of float64 everywhere (results below the smallest normal float flush to
 * 0; NaN stays NaN). The wasm kernel calls the C library's exp and log per
 * element: 4–6 ms for 256×784 — the Bernoulli likelihood's whole cost — against
 * about 0.5 ms. (Composing the backend's `Exp` and `Log1p` kernels is no
 * way out: its `Log1p` computes log(1 + x) and returns 0 for x below 6e-8.)
 */
export function softplus(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (simd == null || x == null || x.dtype !== 'float32') return original.kernelFunc(params);
  const out = backend.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (n > 0) simd.softplus(heapOffset(backend, x), heapOffset(backend, out), n);
  stats.simd++;
  return out;
}
