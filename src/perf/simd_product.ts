/**
 * The matrix products of `simd_kernels.wat` (`gemm`) in the wasm backend's
 * memory, where that module can run (see `wasm_products.ts`).
 */
import * as tf from '@tensorflow/tfjs-core';

import {stats} from './kernel_stats';
import type {Product} from './kernel_validation';
import {heapOffset, SimdKernels, simdKernelsFor, WasmBackendLike} from './simd_kernels';
import type {KernelParams} from './wasm_backend';

/** @internal Test hook: `true` makes the products take the path of backends without the SIMD module (XNNPACK). */
export function _setSimdProductDisabled(disabled: boolean): void {
  simdProductDisabled = disabled;
}
let simdProductDisabled = false;

/** Whether `simd_kernels.wat`'s product can run on this backend (SIMD module, and one thread: XNNPACK uses a pool). */
export function canRunSimdProduct(backend: unknown): boolean {
  if (simdProductDisabled) return false;
  const wasm = (backend as {wasm?: {tfjs?: {getThreadsCount?: () => number}}}).wasm;
  const threads = wasm?.tfjs?.getThreadsCount?.() ?? 1;
  return threads <= 1 && simdKernelsFor(backend) != null;
}

/**
 * The product through `gemm` of `simd_kernels.wat`, or `null` when it does not
 * apply (no SIMD module, a multi-threaded backend). Flagged operands are
 * transposed first (SIMD tiles); a `[B, m, k]·[k, n]` product is one
 * `[B·m, k]·[k, n]` product; otherwise each output matrix is the product of
 * the matrices its batch index broadcasts from. `p` is a valid product
 * (`product`): every offset below stays inside its operand.
 *
 * Why not XNNPACK: the wasm backend hands XNNPACK the right operand as
 * weights to pack, and packs them anew for every tensor it has not seen —
 * about 3 ms for 784×512 (a GEMM of 256 rows by them takes 8–9 ms) — and in
 * training every right operand is new: the weights change every step, and
 * the backward products multiply by gradients. `gemm` packs its right operand
 * in panels of 8 columns in a fraction of a millisecond and then runs at the
 * speed of XNNPACK's cached product (`bench/matmul_transpose.mjs`).
 */
export function simdProduct(params: KernelParams, p: Product, bias: tf.TensorInfo|null, relu: boolean): tf.TensorInfo|null {
  const backend = params.backend as unknown as WasmBackendLike;
  if (!canRunSimdProduct(backend)) return null;
  const simd = simdKernelsFor(backend)!;
  const {m, k, n} = p;
  const batches = tf.util.sizeFromShape(p.batchShape);
  const out = backend.makeOutput(p.outShape, 'float32');
  if (batches * m * n === 0) return out;
  const temporaries: tf.TensorInfo[] = [];
  try {
    const a = p.transposeA ? transposedCopy(backend, simd, p.a, temporaries) : p.a;
    const b = p.transposeB ? transposedCopy(backend, simd, p.b, temporaries) : p.b;
    const pack = backend.makeOutput([8 * Math.ceil(n / 8) * (k + 1) + 8], 'float32');
    temporaries.push(pack);
    // Offsets once everything is allocated (allocations may grow the heap; offsets stay).
    const [aAt, bAt, outAt, packAt] = [a, b, out, pack].map((t) => heapOffset(backend, t));
    // k = 0: a and b hold no values (their offsets may be anything); gemm reads neither.
    const biasAt = bias == null || n === 0 ? 0 : heapOffset(backend, bias);
    if (p.batchB === 1) {
      // [B, m, k]·[k, n]: the rows of a are those of one [B·m, k] matrix (batchA = batches).
      simd.gemm(aAt, bAt, outAt, batches * m, k, n, biasAt, relu ? 1 : 0, packAt);
      if (batches > 1) stats.folded++;
    } else {
      const aIndex = batchIndices(p.a.shape.slice(0, -2), p.batchShape);
      const bIndex = batchIndices(p.b.shape.slice(0, -2), p.batchShape);
      for (let i = 0; i < batches; i++) {
        simd.gemm(aAt + aIndex[i] * m * k * 4, bAt + bIndex[i] * k * n * 4, outAt + i * m * n * 4,
                  m, k, n, biasAt, relu ? 1 : 0, packAt);
      }
    }
    if (temporaries.length > 1) stats.transposed++;
    stats.simd++;
    return out;
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/**
 * For each flat index of the broadcast batch shape `outShape`, the flat index
 * of the operand's batch (shape `shape`, which broadcasts to `outShape`: its
 * axes are aligned at the end, a size-1 axis repeats).
 */
function batchIndices(shape: number[], outShape: number[]): Int32Array {
  const total = tf.util.sizeFromShape(outShape);
  const indices = new Int32Array(total);
  const offset = outShape.length - shape.length;
  const strides = tf.util.computeStrides(shape);
  const outStrides = tf.util.computeStrides(outShape);
  for (let i = 0; i < total; i++) {
    let rest = i;
    let at = 0;
    for (let d = 0; d < outShape.length; d++) {
      const coordinate = d < outShape.length - 1 ? Math.floor(rest / outStrides[d]) : rest;
      if (d < outShape.length - 1) rest -= coordinate * outStrides[d];
      const sd = d - offset;
      if (sd >= 0 && shape[sd] !== 1) at += coordinate * (sd < shape.length - 1 ? strides[sd] : 1);
    }
    indices[i] = at;
  }
  return indices;
}

/** A copy of `x` with its last two axes swapped (kept in `temporaries` for disposal). */
function transposedCopy(backend: WasmBackendLike, simd: SimdKernels, x: tf.TensorInfo,
                        temporaries: tf.TensorInfo[]): tf.TensorInfo {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
  temporaries.push(out);
  const size = tf.util.sizeFromShape(x.shape);
  if (size > 0) {
    const from = heapOffset(backend, x);
    const to = heapOffset(backend, out);
    for (let i = 0; i < size / (rows * cols); i++) simd.transpose(from + i * rows * cols * 4, to + i * rows * cols * 4, rows, cols);
  }
  return out;
}
