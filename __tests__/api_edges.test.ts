/**
 * API edges: seeds must be non-negative integers, inferenceMode is switchable
 * after construction (typed, validated, saved in the config), and every layer
 * rejects options it does not know, listing the ones it does.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {roundTripInMemory} from './helpers/io';
import {useSeededMathRandom} from './helpers/random';

// Unseeded initializers and fit's shuffling draw from Math.random: reseeded before each test.
useSeededMathRandom(0xed9);

describe('seeds', () => {
  it.each([-1, 1.5, NaN, Infinity, 2 ** 53])('rejects seed=%p in reparameterize, bayesianDense and bayesianConv2d', (seed) => {
    expect(() => tfv.layers.reparameterize({seed})).toThrow(
        `reparameterize: expected seed to be a non-negative integer. Received: seed=${seed}`);
    expect(() => tfv.layers.bayesianDense({units: 2, numExamples: 10, seed})).toThrow(
        `bayesianDense: expected seed to be a non-negative integer. Received: seed=${seed}`);
    expect(() => tfv.layers.bayesianConv2d({filters: 2, kernelSize: 3, numExamples: 10, seed})).toThrow(
        `bayesianConv2d: expected seed to be a non-negative integer. Received: seed=${seed}`);
  });

  it('accepts 0, large safe integers and null (a saved config without a seed)', () => {
    expect(tfv.layers.reparameterize({seed: 0}).seed).toBe(0);
    expect(tfv.layers.reparameterize({seed: 2 ** 40}).seed).toBe(2 ** 40);
    expect(tfv.layers.reparameterize({seed: null as unknown as number}).seed).toBeUndefined();
    expect(tfv.layers.bayesianDense({units: 2, numExamples: 10, seed: 7}).seed).toBe(7);
  });
});

describe('unknown options', () => {
  it('every layer rejects a misspelt option and lists the known ones', () => {
    expect(() => tfv.layers.bayesianDense({units: 2, numExamples: 10, estimater: 'flipout'} as tfv.layers.BayesianDenseArgs))
        .toThrow(/^bayesianDense: unknown option 'estimater'. Known options: units, activation, .*estimator.*, name/);
    expect(() => tfv.layers.bayesianConv2d({filters: 2, kernelSize: 3, numExamples: 10, stride: 2} as tfv.layers.BayesianConv2DArgs))
        .toThrow(/^bayesianConv2d: unknown option 'stride'. Known options: filters, kernelSize, strides, .*estimator.*, name/);
    expect(() => tfv.layers.klDivergence({wieght: 2} as tfv.layers.KLDivergenceLayerArgs))
        .toThrow(/^klDivergence: unknown option 'wieght'. Known options: weight, freeBits, prior, mcSamples, seed, inputShape/);
    expect(() => tfv.layers.reparameterize({sample: 3, sed: 1} as tfv.layers.ReparameterizeArgs))
        .toThrow(/^reparameterize: unknown options 'sample', 'sed'. Known options: samples, seed, inferenceMode/);
    expect(() => tfv.layers.gaussianOutput({units: 3} as unknown as {name: string}))
        .toThrow(/^gaussianOutput: unknown option 'units'. Known options: inputShape/);
  });

  it('tfjs layer arguments stay accepted', () => {
    const layer = tfv.layers.klDivergence({name: 'k', trainable: false, inputShape: [4], dtype: 'float32'});
    expect(layer.name).toBe('k');
    expect(() => tfv.layers.bayesianDense({units: 1, klWeight: 0.1, batchInputShape: [null, 3]})).not.toThrow();
  });
});

describe.each(NODE_BACKENDS)('inferenceMode on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('reparameterize switches between sampling and the mean after construction, and the config keeps it', async () => {
    const layer = tfv.layers.reparameterize({seed: 3});
    const mu = tf.tensor2d([[1, -2]]);
    const logVar = tf.tensor2d([[0, 0]]);
    const sampled = layer.apply([mu, logVar]);
    expect(Array.from(sampled.dataSync())).not.toEqual([1, -2]);
    layer.inferenceMode = 'mean';
    expect(layer.inferenceMode).toBe('mean');
    expect(Array.from(layer.apply([mu, logVar]).dataSync())).toEqual([1, -2]);
    expect(layer.getConfig()['inferenceMode']).toBe('mean');
    // At training it samples whatever the mode.
    expect(Array.from(layer.apply([mu, logVar], {training: true}).dataSync())).not.toEqual([1, -2]);
    expect(() => { layer.inferenceMode = 'median' as 'mean'; })
        .toThrow("reparameterize: expected inferenceMode to be one of 'sample', 'mean'. Received: inferenceMode='median'");
    expect(layer.inferenceMode).toBe('mean');
    tf.dispose([mu, logVar, sampled]);
  });

  it('bayesianDense: Monte Carlo predictions, then posterior-mean predictions, kept through a save', async () => {
    const model = tfl.sequential({layers: [
      tfv.layers.bayesianDense({inputShape: [3], units: 2, numExamples: 10, seed: 1, name: 'bd',
                                kernelUntransformedScaleInitializer: tfl.initializers.constant({value: 0})}),
    ]});
    const x = tf.tensor2d([[1, 2, 3]]);
    const layer = model.getLayer('bd') as tfv.layers.BayesianDense;
    const a = model.predict(x) as tf.Tensor;
    const b = model.predict(x) as tf.Tensor;
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(b.dataSync()));
    layer.inferenceMode = 'mean';
    const c = model.predict(x) as tf.Tensor;
    const d = model.predict(x) as tf.Tensor;
    expect(Array.from(c.dataSync())).toEqual(Array.from(d.dataSync()));
    const loaded = await roundTripInMemory(model);
    expect((loaded.getLayer('bd') as tfv.layers.BayesianDense).inferenceMode).toBe('mean');
    const e = loaded.predict(x) as tf.Tensor;
    expect(Array.from(e.dataSync())).toEqual(Array.from(c.dataSync()));
    expect(() => { layer.inferenceMode = 'MC' as 'sample'; }).toThrow(/bayesianDense: expected inferenceMode/);
    tf.dispose([x, a, b, c, d, e]);
  });

  it('bayesianConv2d: Monte Carlo predictions, then posterior-mean predictions, kept through a save', async () => {
    const model = tfl.sequential({layers: [
      tfv.layers.bayesianConv2d({inputShape: [4, 4, 1], filters: 2, kernelSize: 2, numExamples: 10, seed: 1, name: 'bc',
                                 kernelUntransformedScaleInitializer: tfl.initializers.constant({value: 0})}),
    ]});
    const x = tf.ones([1, 4, 4, 1]);
    const layer = model.getLayer('bc') as tfv.layers.BayesianConv2D;
    const a = model.predict(x) as tf.Tensor;
    const b = model.predict(x) as tf.Tensor;
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(b.dataSync()));
    layer.inferenceMode = 'mean';
    const c = model.predict(x) as tf.Tensor;
    expect(Array.from((model.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(c.dataSync()));
    const loaded = await roundTripInMemory(model);
    expect((loaded.getLayer('bc') as tfv.layers.BayesianConv2D).inferenceMode).toBe('mean');
    expect(Array.from((loaded.predict(x) as tf.Tensor).dataSync())).toEqual(Array.from(c.dataSync()));
    expect(() => { layer.inferenceMode = 'MC' as 'sample'; }).toThrow(/bayesianConv2d: expected inferenceMode/);
    tf.dispose([x, a, b, c]);
  });
});
