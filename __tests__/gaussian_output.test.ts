import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {GaussianOutput} from '../src/layers/gaussian_output';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {useSeededMathRandom} from './helpers/random';

// Every draw in this file is seeded: layers and initializers get seeds where
// they matter, and Math.random (the seed of tfjs's unseeded draws and of
// model.fit's shuffling) is reseeded before each test, so every outcome —
// "training lowered the loss" included — is fixed on a given backend
// (docs/testing.md).
useSeededMathRandom(0x6a);

describe.each(NODE_BACKENDS)('GaussianOutput on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('concatenates [mean, logVar], declares the last axis unknown, and its gradient is the identity', () => {
    const layer = tfv.layers.gaussianOutput();
    expect(layer.computeOutputShape([[null, 3], [null, 3]])).toEqual([null, null]);
    expect(layer.computeOutputShape([null, 6])).toEqual([null, null]);
    const mean = tf.tensor2d([[1, 2], [3, 4]]);
    const lv = tf.tensor2d([[-1, 0], [0.5, 2]]);
    const out = layer.apply([mean, lv]) as tf.Tensor;
    expect(out.arraySync()).toEqual([[1, 2, -1, 0], [3, 4, 0.5, 2]]);
    const w = tf.tensor2d([[1, 2, 3, 4], [5, 6, 7, 8]]);
    const [gm, gl] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(w, layer.apply([a, b]) as tf.Tensor)))([mean, lv]);
    expectClose(gm, tf.tensor2d([[1, 2], [5, 6]]), 0, 0);
    expectClose(gl, tf.tensor2d([[3, 4], [7, 8]]), 0, 0);
  });

  it('lets a learned-variance Gaussian decoder train with model.fit on [batch, d] targets and round-trips', async () => {
    const x = tfl.input({shape: [4]});
    const h = tfl.layers.dense({units: 8, activation: 'tanh'}).apply(x) as tfl.SymbolicTensor;
    const mean = tfl.layers.dense({units: 4}).apply(h) as tfl.SymbolicTensor;
    const logVar = tfl.layers.dense({units: 4}).apply(h) as tfl.SymbolicTensor;
    const out = tfv.layers.gaussianOutput({name: 'params'}).apply([mean, logVar]) as tfl.SymbolicTensor;
    const model = tfl.model({inputs: x, outputs: out});
    model.compile({optimizer: tf.train.adam(0.02), loss: tfv.losses.gaussianNLL({learnedVariance: true})});
    const xs = tf.randomUniform([64, 4], -1, 1, 'float32', 3);
    const ys = tf.mul(xs, 2);
    const before = tf.memory().numTensors;
    const hist = await model.fit(xs, ys, {epochs: 20, batchSize: 16, verbose: 0});
    const loss = hist.history['loss'] as number[];
    // Seeded: the dense layers' default (unseeded) initializers and fit's shuffling draw from
    // Math.random, reseeded above; the inputs use seed 3. The loss curve is fixed on a given backend.
    expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
    const predicted = model.predict(xs) as tf.Tensor;
    expect(predicted.shape).toEqual([64, 8]);
    predicted.dispose();
    const config = model.getLayer('params').getConfig();
    expect((GaussianOutput.fromConfig(GaussianOutput, config) as GaussianOutput).getConfig()).toEqual(config);
    // Only optimizer slots were added by training.
    expect(tf.memory().numTensors - before).toBeLessThanOrEqual(2 * model.trainableWeights.length + 2);
  });

  it('rejects mismatched heads with an error naming them', () => {
    const a = tfl.input({shape: [3]});
    expect(() => tfv.layers.gaussianOutput().apply([a, tfl.input({shape: [2]})])).toThrow(/mean|mu and logVar.*same shape/);
    expect(() => tfv.layers.gaussianOutput().apply(a)).toThrow(/even/);
  });
});
