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
 * one call each and, on wasm, copy every input they save for the gradient;
 * the values are bit for bit those of `tf.mul` and `tf.add`. Elsewhere —
 * other backends, the kernels off, signs broadcast over positions (the
 * convolution's `[batch, 1, 1, channels]`), other dtypes — they are those
 * tfjs ops. The signs are constants to these ops: asking for their gradient
 * is an error (the layers never do).
 */
import * as tf from '@tensorflow/tfjs-core';

import {posteriorKernels, SignProductKernels} from '../../perf/posterior_kernels';

interface EngineInternals {
  isTapeOn(): boolean;
  state: {activeTape: Array<{outputs: tf.Tensor[], saved: tf.Tensor[]}>|null};
  runKernelFunc(params: {
    forwardFunc: () => tf.Tensor,
    backwardsFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => Record<string, () => tf.Tensor>,
    inputs: Record<string, tf.Tensor>,
  }): tf.Tensor;
}

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

/**
 * One tape node computing `forward()` whose backward pass gets the signs
 * (kept without a copy: a reshape shares their data; the engine disposes it
 * with the node's other saved tensors after the backward pass).
 */
function signOp(inputs: Record<string, tf.Tensor>, signs: tf.Tensor, forward: () => tf.Tensor,
    backward: (dy: tf.Tensor, signs: tf.Tensor) => Record<string, () => tf.Tensor>): tf.Tensor {
  const engine = tf.engine() as unknown as EngineInternals;
  const taping = engine.isTapeOn();
  calls++;
  let kept: tf.Tensor|null = null;
  const out = engine.runKernelFunc({
    forwardFunc: () => {
      // Made inside the op, so the tape does not record the reshape.
      if (taping) kept = tf.keep(tf.reshape(signs, signs.shape));
      return forward();
    },
    backwardsFunc: (dy, saved) => backward(dy, saved[0]),
    inputs,
  });
  if (kept !== null) {
    const tape = engine.state.activeTape;
    const node = tape === null ? undefined : tape[tape.length - 1];
    if (node === undefined || node.outputs[0] !== out) {
      tf.dispose(kept);
      throw new Error('flipout\'s sign product could not find its node on the gradient tape');
    }
    node.saved.push(kept);
  }
  return out;
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
