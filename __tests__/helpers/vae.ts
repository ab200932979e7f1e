/** Small models shared by the test suites. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../../src';
import {uniformArray} from './random';

export {uniformArray};

export interface VaeOptions {
  inputDim?: number;
  hidden?: number;
  latent?: number;
  seed?: number;
  inferenceMode?: 'sample'|'mean';
  samples?: number;
  klWeight?: number;
}

/** The DESIGN.md VAE: Dense encoder → [mu, logVar] → KL → reparameterize → Dense decoder (logits). */
export function buildVae(opts: VaeOptions = {}): tfl.LayersModel {
  const {inputDim = 784, hidden = 64, latent = 2, seed = 1, inferenceMode = 'sample', samples = 1, klWeight = 1} = opts;
  const init = (s: number) => tfl.initializers.glorotUniform({seed: seed * 100 + s});
  const x = tfl.input({shape: [inputDim]});
  const h = tfl.layers.dense({units: hidden, activation: 'relu', kernelInitializer: init(1)}).apply(x) as tfl.SymbolicTensor;
  let mu = tfl.layers.dense({units: latent, kernelInitializer: init(2), name: 'z_mu'}).apply(h) as tfl.SymbolicTensor;
  let logVar = tfl.layers.dense({units: latent, kernelInitializer: init(3), name: 'z_log_var'}).apply(h) as tfl.SymbolicTensor;
  [mu, logVar] = tfv.layers.klDivergence({weight: klWeight, name: 'kl'}).apply([mu, logVar]) as tfl.SymbolicTensor[];
  const z = tfv.layers.reparameterize({seed, inferenceMode, samples, name: 'z'}).apply([mu, logVar]) as tfl.SymbolicTensor;
  const d = tfl.layers.dense({units: hidden, activation: 'relu', kernelInitializer: init(4)}).apply(z) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({units: inputDim, kernelInitializer: init(5), name: 'logits'}).apply(d) as tfl.SymbolicTensor;
  return tfl.model({inputs: x, outputs: out});
}

/** Binary "images" [n, dim] with a fixed seed. */
export function binaryData(n: number, dim: number, seed = 7): tf.Tensor2D {
  const u = uniformArray(n * dim, seed);
  return tf.tensor2d(Array.from(u, (v) => (v < 0.3 ? 1 : 0)), [n, dim]);
}

/**
 * Trains a compiled model for one warm-up epoch (creating optimizer slots),
 * then 50 steps in one epoch (batch 2 over 100 examples), then runs 50
 * predicts, asserting the tensor count is the same after every step and
 * unchanged by the predicts, and that training lowered the loss. Returns the
 * shape of one prediction. (tfjs-layers itself holds one more tensor per
 * finished epoch on wasm, with or without our layers, so step counts are
 * compared within the epoch.)
 */
export async function expectFlatTensorCount(model: tfl.LayersModel, x: tf.Tensor): Promise<number[]> {
  expect(x.shape[0]).toBe(100);
  const first = await model.fit(x, x, {epochs: 1, batchSize: 10, verbose: 0});
  const counts: number[] = [];
  const h = await model.fit(x, x, {
    epochs: 1, batchSize: 2, verbose: 0,
    callbacks: {onBatchEnd: async () => { counts.push(tf.memory().numTensors); }},
  });
  expect(counts).toHaveLength(50);
  expect(new Set(counts).size).toBe(1);
  expect(h.history['loss'][0]).toBeLessThan(first.history['loss'][0] as number);
  const before = tf.memory().numTensors;
  let shape: number[] = [];
  for (let i = 0; i < 50; i++) {
    const y = model.predict(x) as tf.Tensor;
    shape = y.shape;
    y.dispose();
  }
  expect(tf.memory().numTensors).toBe(before);
  return shape;
}
