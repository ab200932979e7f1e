/**
 * The matrix products: `BatchMatMul` and `_FusedMatMul` on the wasm backend.
 *
 * The wasm backend of tfjs 4.22 computes `matMul(a, b)` with XNNPACK only when
 * neither `transposeA` nor `transposeB` is set and both operands have a batch
 * size of one; every other product runs a naive blocked loop, ten to thirty
 * times slower (256×784 by 784×512 on 2 cores: 11–29 GFLOP/s plain, 0.7–2.2
 * GFLOP/s with a flag; `bench/matmul_transpose.mjs`). Every backward pass uses
 * those flags: the gradient of `y = x·W` is `dx = dy·Wᵀ` and `dW = xᵀ·dy`, for
 * tfjs's `Dense` through the `customGrad` of the fused op inside tfjs-core,
 * for `tf.matMul` through the registered `BatchMatMul` gradient. The fused
 * kernel's loop is also wrong whenever it runs: it adds `bias[n-1]` instead of
 * `bias[j]` to every row but the first, adds the bias and clamps relu/relu6
 * once per 48-wide block of the shared dimension instead of once. And even
 * the XNNPACK path pays, for every right operand it has not seen before, about
 * 3 ms to pack a 784×512 matrix — a third of the product itself — which in
 * training is every product: the weights change every step and the backward
 * products multiply by gradients.
 *
 * The fix works below every gradient, at the kernel registry. On the `wasm`
 * backend, `BatchMatMul` and `_FusedMatMul` run the product of
 * `simd_kernels.wat` (a WebAssembly SIMD module working in the backend's own
 * memory): flagged operands are copied transposed (SIMD tiles), the right
 * operand is packed in panels of 8 columns (a fraction of a millisecond), and
 * 4×8 tiles accumulate in SIMD registers, with the bias and relu applied in
 * the same pass (other activations by their own kernels afterwards). A
 * `[B, m, k]·[k, n]` product is one `[B·m, k]·[k, n]` product. It runs as fast
 * as XNNPACK's product with a cached right operand, and a third faster than
 * XNNPACK with a new one. Where the module cannot run (no WebAssembly SIMD, or
 * the threaded build with more than one thread, where XNNPACK splits its work)
 * the products are rewritten for XNNPACK instead: flagged operands transposed
 * with the wasm `Transpose` kernel, flags cleared, batch folded; tiny flagged
 * products (`MIN_WORK_PER_COPIED_ELEMENT`) keep the loop; the fused kernel
 * never takes it.
 */
import * as tf from '@tensorflow/tfjs-core';

import {stats} from './kernel_stats';
import {FUSED_ACTIVATIONS, fusedShapeError, product} from './kernel_validation';
import type {WasmBackendLike} from './simd_kernels';
import {canRunSimdProduct, simdProduct} from './simd_product';
import {unfused} from './unfused_product';
import type {KernelParams} from './wasm_backend';
import {tiledProduct, viaXnnpack} from './xnnpack_product';

/**
 * A flagged operand is copied only when the product does at least this many
 * multiply-adds per copied element. Measured on wasm (tfjs 4.22): the naive
 * transposed loop runs at ~1 GMAC/s, a transposed copy plus an XNNPACK product
 * breaks even at about four output columns per copied row.
 */
const MIN_WORK_PER_COPIED_ELEMENT = 4;

/**
 * `BatchMatMul`. Whatever `product` declines (other dtypes, ranks below 2,
 * batch shapes that do not broadcast, inner dimensions that differ) goes to
 * the wasm kernel, which throws tfjs's own error for it (`Error in matMul:
 * inner shapes (3) and (4) of Tensors with shapes 2,3 and 4,2 and
 * transposeA=false and transposeB=false must match.`).
 */
export function batchMatMul(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const p = product(params);
  if (p == null) return original.kernelFunc(params);
  const ours = simdProduct(params, p, null, false);
  if (ours != null) return ours;
  // Without the SIMD module: XNNPACK through the wasm kernel, which handles a
  // batch size of one on either side or equal batch sizes.
  if (p.k === 0) return zeros(params.backend as unknown as WasmBackendLike, p.outShape);
  const total = tf.util.sizeFromShape(p.batchShape);
  if (!((p.batchA === total || p.batchA === 1) && (p.batchB === total || p.batchB === 1))) {
    // Batches broadcast both ways ([2, 1] with [1, 3]): the wasm kernel indexes them modulo their
    // sizes and allocates max(batchA, batchB) matrices for an output of batchA·batchB. Repeat both
    // operands to the output's batch shape first.
    return tiledProduct(original, params, p);
  }
  const copied = (p.transposeA ? p.batchA * p.m * p.k : 0) + (p.transposeB ? p.batchB * p.k * p.n : 0);
  if (copied > 0) {
    const work = Math.max(p.batchA, p.batchB) * p.m * p.k * p.n;
    if (work < MIN_WORK_PER_COPIED_ELEMENT * copied) {
      stats.passedThrough++;
      return original.kernelFunc(params);
    }
  } else if (!(p.batchA > 1 && p.batchB === 1)) {
    return original.kernelFunc(params);
  }
  return viaXnnpack(original, params, p);
}

/**
 * `_FusedMatMul`. tfjs-core's `fused.matMul` op validates its operands before
 * it runs the kernel (and hands the kernel rank-3 operands); the wasm kernel
 * itself checks only dtypes, a rank-1 bias and the activation, and computes
 * garbage — reading past its operands — for inner dimensions that differ. So
 * here the op's checks are made again, with the op's messages, for callers
 * of `runKernel`: inner dimensions, broadcastable batch shapes, a bias that
 * broadcasts to the output, weights for `prelu`. Operands of rank 2 or more
 * are computed as the cpu backend does (`BatchMatMul`, `Add`, activation).
 */
export function fusedMatMul(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {a, b, bias, preluActivationWeights} = params.inputs;
  const attrs = params.attrs ?? {};
  const activation = String(attrs.activation ?? 'linear');
  if (a == null || b == null || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 ||
      b.shape.length < 2 || !FUSED_ACTIVATIONS.includes(activation)) {
    return original.kernelFunc(params);  // its dtype, rank or activation error
  }
  const p = product(params);
  if (p == null) throw fusedShapeError(a, b, attrs.transposeA === true, attrs.transposeB === true);
  if (bias != null) tf.broadcast_util.assertAndGetBroadcastShape(p.outShape, bias.shape);
  if (activation === 'prelu') {
    if (preluActivationWeights == null) {
      throw new Error(`_FusedMatMul: activation 'prelu' needs the input preluActivationWeights; received none`);
    }
    // As the cpu kernel's Prelu: weights that do not broadcast to the output are an error (the wasm
    // kernel applies them modulo their size).
    const outShape = bias == null ? p.outShape : tf.broadcast_util.assertAndGetBroadcastShape(p.outShape, bias.shape);
    tf.broadcast_util.assertAndGetBroadcastShape(outShape, preluActivationWeights.shape);
  }
  // Bias (one float32 per output column) and relu are applied inside the
  // product; anything else by the kernels of the unfused ops after it.
  const biasInKernel = bias == null ||
      (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === p.n && bias.shape.length <= p.outShape.length &&
       (p.n === 0 || bias.shape[bias.shape.length - 1] === p.n));
  if (canRunSimdProduct(params.backend)) {
    if (biasInKernel && (activation === 'linear' || activation === 'relu')) {
      const out = simdProduct(params, p, bias ?? null, activation === 'relu');
      if (out != null) return out;
    }
    return unfused(params, p);
  }
  // The wasm kernel reads rank-3 operands, a rank-1 bias of n values and
  // XNNPACK's batch rules; and its own loop (any flag, a batch) is wrong.
  const kernelCan = a.shape.length === 3 && b.shape.length === 3 && p.batchB === 1 && activation !== 'prelu' && p.k > 0 &&
      (bias == null || (bias.shape.length === 1 && bias.shape[0] === p.n && bias.dtype === 'float32'));
  if (!kernelCan) return unfused(params, p);
  if (!p.transposeA && !p.transposeB && p.batchA <= 1) return original.kernelFunc(params);
  return viaXnnpack(original, params, p);
}

/** A float32 tensor of zeros. (The wasm product leaves its output uninitialised when k is 0.) */
function zeros(backend: WasmBackendLike, shape: number[]): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  if (tf.util.sizeFromShape(shape) > 0) backend.typedArrayFromHeap(out).fill(0);
  return out;
}
