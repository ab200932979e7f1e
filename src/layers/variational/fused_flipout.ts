/**
 * Flipout's sign products as single tape nodes on tfjs's wasm backend:
 *
 *     flipSigns(x, s) = x ⊙ s,                 ∂/∂x = dy ⊙ s,
 *     addFlipped(m, p, r) = m + p ⊙ r,          ∂/∂m = dy,  ∂/∂p = dy ⊙ r,
 *
 * for ±1 sign tensors s and r of the other operand's shape (the dense
 * layer's per-example signs). With the fast kernels on and at least 4
 * elements, each is one SIMD pass each way (`mul` and `mul_add` in
 * `src/perf/posterior_kernels.wat`) where tfjs's Multiply (and Add) take
 * one call each and, on wasm, copy every input they save for the gradient
 * (here the signs are kept as they are: `runTapeOp`);
 * the values are bit for bit those of `tf.mul` and `tf.add`. Elsewhere —
 * other backends, the kernels off, signs broadcast over positions (the
 * convolution's `[batch, 1, 1, channels]`), other dtypes — they are those
 * tfjs ops. The signs are constants to these ops: asking for their gradient
 * is an error (the layers never do).
 */
import * as tf from '@tensorflow/tfjs-core';

import {posteriorKernels, SignProductKernels} from '../../perf/posterior_kernels';
import {runTapeOp} from '../../perf/tape_op';

/** The smallest tensor the sign passes take (their last vector overlaps the one before). */
const MIN_SIZE = 4;

let calls = 0;

/** How many times the sign products ran as fused passes (for tests). */
export function fusedSignProductCalls(): number {
  return calls;
}

function kernelsFor(...tensors: tf.Tensor[]): SignProductKernels|null {
  return tensors[0].size >= MIN_SIZE ? posteriorKernels(...tensors) : null;
}

const constantSigns = (): tf.Tensor => {
  throw new Error('flipout\'s sign products treat their signs as constants and give no gradient for them; ' +
      'with the fast wasm kernels off (disableFastWasmKernels) the tfjs ops give it');
};

/** One tape node computing `forward()` whose backward pass gets the signs (a reshape: their data, no copy). */
function signOp(inputs: Record<string, tf.Tensor>, signs: tf.Tensor, forward: () => tf.Tensor,
    backward: (dy: tf.Tensor, signs: tf.Tensor) => Record<string, () => tf.Tensor>): tf.Tensor {
  calls++;
  return runTapeOp(inputs, (taping) => ({outputs: [forward()], kept: taping ? [tf.reshape(signs, signs.shape)] : []}),
      (dys, kept) => backward(dys[0], kept[0]))[0];
}

/** `x ⊙ s` for ±1 signs s (see the module's comment). */
export function flipSigns(x: tf.Tensor, signs: tf.Tensor): tf.Tensor {
  const k = kernelsFor(x, signs);
  if (k === null) return tf.mul(x, signs);
  return signOp({x, signs}, signs, () => k.mul(x, signs), (dy, s) => ({
    x: () => k.mul(dy, s),
    signs: constantSigns,
  }));
}

/** `m + p ⊙ r` for ±1 signs r (see the module's comment). */
export function addFlipped(m: tf.Tensor, p: tf.Tensor, signs: tf.Tensor): tf.Tensor {
  const k = kernelsFor(m, p, signs);
  if (k === null) return tf.add(m, tf.mul(p, signs));
  return signOp({m, p, signs}, signs, () => k.mulAdd(m, p, signs), (dy, r) => ({
    m: () => tf.reshape(dy, m.shape),
    p: () => k.mul(dy, r),
    signs: constantSigns,
  }));
}
