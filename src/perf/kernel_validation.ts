/**
 * The checks the product wrappers make before they touch the heap: which
 * `BatchMatMul` and `_FusedMatMul` calls are products this library computes,
 * and the errors tfjs-core's `fused.matMul` op throws for the others.
 */
import * as tf from '@tensorflow/tfjs-core';

import type {KernelParams} from './wasm_backend';

/** The operands of a product and its sizes: `[batchA, m, k]·[batchB, k, n]` after the flags. */
export interface Product {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  m: number;
  k: number;
  n: number;
  batchA: number;
  batchB: number;
  /** The broadcast batch shape of the output (`[]` for two matrices). */
  batchShape: number[];
  /** `[...batchShape, m, n]`. */
  outShape: number[];
}

/**
 * The product's operands and sizes when it is one this module computes:
 * float32 operands of rank 2 or more whose batch shapes broadcast and whose
 * inner dimensions agree; `null` otherwise (the caller hands those to the
 * kernel it replaces, or throws tfjs's error).
 */
export function product(params: KernelParams): Product|null {
  const {a, b} = params.inputs;
  const attrs = params.attrs ?? {};
  if (a == null || b == null || a.dtype !== 'float32' || b.dtype !== 'float32' ||
      a.shape.length < 2 || b.shape.length < 2) {
    return null;
  }
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const k = a.shape[transposeA ? rankA - 2 : rankA - 1];
  if (b.shape[transposeB ? rankB - 1 : rankB - 2] !== k) return null;
  let batchShape: number[];
  try {
    batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const m = a.shape[transposeA ? rankA - 1 : rankA - 2];
  const n = b.shape[transposeB ? rankB - 2 : rankB - 1];
  return {
    a, b, transposeA, transposeB, m, k, n,
    batchA: tf.util.sizeFromShape(a.shape.slice(0, -2)),
    batchB: tf.util.sizeFromShape(b.shape.slice(0, -2)),
    batchShape,
    outShape: [...batchShape, m, n],
  };
}

/** The activations of tfjs-core's fused ops (`fused_types.ts`), which the wasm kernel also knows. */
export const FUSED_ACTIVATIONS: readonly string[] = ['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'sigmoid', 'elu'];

/** The error of tfjs-core's `fused.matMul` op for operands that cannot be multiplied. */
export function fusedShapeError(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): Error {
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const innerA = transposeA ? a.shape[rankA - 2] : a.shape[rankA - 1];
  const innerB = transposeB ? b.shape[rankB - 1] : b.shape[rankB - 2];
  if (innerA !== innerB) {
    return new Error(`Error in fused matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ` +
                     `${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  try {
    tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch (e) {
    return e as Error;
  }
  return new Error(`_FusedMatMul: expected inputs a and b whose product is defined, received shapes ${a.shape} and ` +
                   `${b.shape} (transposeA=${transposeA}, transposeB=${transposeB})`);
}
