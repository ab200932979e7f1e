/**
 * `runTapeOp` (src/perf/tape_op.ts): an op on the gradient tape whose
 * backward pass gets the tensors its forward kept, as they are — the same
 * gradients as the op's tfjs ops, the kept tensors alive until the backward
 * pass and disposed after it, nothing kept outside a tape, no copy of the
 * kept data, and an error (nothing leaked) when the op's node cannot be found.
 */
import * as tf from '@tensorflow/tfjs-core';

import {NODE_BACKENDS, useBackend} from './helpers/backends';
import '../src';  // tfjs's gradients (through tfjs-layers)
import {runTapeOp} from '../src/perf/tape_op';

/** y = x ⊙ k as a tape op keeping k (a reshape of it: its data, no copy). */
function scaled(x: tf.Tensor, k: tf.Tensor, seen?: {kept: tf.Tensor[]}): tf.Tensor {
  return runTapeOp({x, k}, (taping) => ({
    outputs: [tf.mul(x, k)],
    kept: taping ? [tf.reshape(k, k.shape)] : [],
  }), ([dy], kept) => {
    if (seen !== undefined) seen.kept = kept;
    return {x: () => tf.mul(dy, kept[0]), k: () => tf.mul(dy, x)};
  })[0];
}

describe.each(NODE_BACKENDS)('runTapeOp on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  it('gives the gradients of its ops and frees what it kept after the backward pass', () => {
    const x = tf.tensor1d([1, -2, 3, 0.5]);
    const k = tf.tensor1d([2, 3, -1, 4]);
    const before = tf.memory().numTensors;
    const seen: {kept: tf.Tensor[]} = {kept: []};
    const dx = tf.tidy(() => Array.from(tf.grad((a: tf.Tensor) => tf.sum(tf.mul(scaled(a, k, seen), a)))(x).dataSync()));
    // d/dx Σ (x ⊙ k) ⊙ x = 2 k ⊙ x
    expect(dx).toEqual([4, -12, -6, 4]);
    expect(seen.kept).toHaveLength(1);
    expect(seen.kept[0].isDisposed).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, k]);
  });

  it('keeps nothing outside a tape, and shares the kept data instead of copying it', () => {
    const x = tf.tensor1d([1, 2]);
    const k = tf.tensor1d([3, 4]);
    const before = tf.memory();
    const y = scaled(x, k);
    expect(tf.memory().numTensors).toBe(before.numTensors + 1);
    y.dispose();
    // Under a tape the op adds its output and one kept tensor, which shares k's data buffer.
    const dataBuffers = tf.memory().numDataBuffers;
    tf.tidy(() => {
      tf.grad((a: tf.Tensor) => {
        const out = scaled(a, k);
        expect(tf.memory().numDataBuffers - dataBuffers).toBe(1);  // the output's data alone
        return tf.sum(out);
      })(x);
    });
    expect(tf.memory().numTensors).toBe(before.numTensors);
    tf.dispose([x, k]);
  });

  it('refuses to attach its kept tensors when the forward kept any without a tape, and leaks nothing', () => {
    const x = tf.tensor1d([1, 2]);
    const before = tf.memory().numTensors;
    expect(() => runTapeOp({x}, () => ({outputs: [tf.mul(x, 2)], kept: [tf.reshape(x, x.shape)]}), () => ({x: () => x})))
        .toThrow('runTapeOp: the op\'s node is not the last on the gradient tape');
    // The output escaped before the check; the kept tensor was disposed.
    expect(tf.memory().numTensors).toBe(before + 1);
    x.dispose();
  });
});
