/**
 * The products rewritten for the wasm kernel's XNNPACK path, where the SIMD
 * module cannot run (see `wasm_products.ts`): flags cleared by transposing
 * the operands, a batched left operand folded into one matrix, batches that
 * broadcast both ways repeated.
 */
import * as tf from '@tensorflow/tfjs-core';

import {stats} from './kernel_stats';
import type {Product} from './kernel_validation';
import {BACKEND, KernelParams, WasmBackend} from './wasm_backend';

/** The product of `p` with both operands repeated (wasm `Tile`) to the output's batch shape. */
export function tiledProduct(original: tf.KernelConfig, params: KernelParams, p: Product): tf.TensorInfo|tf.TensorInfo[] {
  const tile = tf.getKernel(tf.Tile, BACKEND);
  if (tile == null) return original.kernelFunc(params);
  const backend = params.backend as unknown as WasmBackend;
  const temporaries: tf.TensorInfo[] = [];
  const repeated = (x: tf.TensorInfo): tf.TensorInfo => {
    const batch = x.shape.slice(0, -2);
    const padded = [...new Array(p.batchShape.length - batch.length).fill(1), ...batch];
    const view = {dataId: x.dataId, dtype: x.dtype, shape: [...padded, ...x.shape.slice(-2)]};
    const reps = [...p.batchShape.map((d, i) => (padded[i] === 1 ? d : 1)), 1, 1];
    const out = tile.kernelFunc({inputs: {x: view}, backend: params.backend, attrs: {reps}}) as tf.TensorInfo;
    temporaries.push(out);
    return out;
  };
  try {
    return original.kernelFunc({...params, inputs: {...params.inputs, a: repeated(p.a), b: repeated(p.b)}});
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/** Runs `original` with its flags cleared and a batch-1 view of the left operand where possible. */
export function viaXnnpack(original: tf.KernelConfig, params: KernelParams, p: Product): tf.TensorInfo|tf.TensorInfo[] {
  const transpose = tf.getKernel(tf.Transpose, BACKEND);
  if (transpose == null && (p.transposeA || p.transposeB)) return original.kernelFunc(params);
  const {inputs, backend, attrs} = params;
  const temporaries: tf.TensorInfo[] = [];
  const swapLastAxes = (x: tf.TensorInfo): tf.TensorInfo => {
    const rank = x.shape.length;
    const perm = x.shape.map((_, i) => i);
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    const out = transpose!.kernelFunc({inputs: {x}, backend, attrs: {perm}}) as tf.TensorInfo;
    temporaries.push(out);
    return out;
  };
  try {
    let a = p.transposeA ? swapLastAxes(p.a) : p.a;
    const b = p.transposeB ? swapLastAxes(p.b) : p.b;
    if (temporaries.length > 0) stats.transposed++;
    // [B, m, k]·[1, k, n] = one [B·m, k]·[k, n] product: the rows of a
    // row-major [B, m, k] are those of a [B·m, k] matrix, and the output's
    // [B·m, n] rows are those of [B, m, n]. PReLU weights are applied to the
    // flat output modulo their size, which the view does not change.
    let outShape: number[]|undefined;
    if (p.batchA > 1 && p.batchB === 1) {
      outShape = tf.broadcast_util.assertAndGetBroadcastShape(p.a.shape.slice(0, -2), p.b.shape.slice(0, -2))
                     .concat([p.m, p.n]);
      a = {dataId: a.dataId, dtype: a.dtype, shape: [1, p.batchA * p.m, p.k]};
      stats.folded++;
    }
    const out = original.kernelFunc({
      inputs: {...inputs, a, b},
      backend,
      attrs: {...attrs, transposeA: false, transposeB: false},
    }) as tf.TensorInfo;
    if (outShape != null) out.shape = outShape;
    return out;
  } finally {
    for (const t of temporaries) (backend as WasmBackend).disposeData(t.dataId);
  }
}
