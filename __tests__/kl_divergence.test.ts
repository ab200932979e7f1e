import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {KLDivergenceLayer} from '../src/layers/kl_divergence';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {uniformArray, useSeededMathRandom} from './helpers/random';
import {binaryData, buildVae, expectFlatTensorCount} from './helpers/vae';

// Every draw in this file is seeded: layers and initializers get seeds where
// they matter, and Math.random (the seed of tfjs's unseeded draws and of
// model.fit's shuffling) is reseeded before each test, so every outcome —
// "training lowered the loss" included — is fixed on a given backend
// (docs/testing.md).
useSeededMathRandom(0x4b1);

/** Closed form in float64: KL(N(m, e^lv) || N(0,1)) = ½(e^lv + m² − 1 − lv). */
function klReference(mu: number[], logVar: number[], batch: number, freeBits = 0): number {
  const d = mu.length / batch;
  const perDim = new Array(d).fill(0);
  for (let i = 0; i < mu.length; i++) {
    perDim[i % d] += 0.5 * (Math.exp(logVar[i]) + mu[i] * mu[i] - 1 - logVar[i]) / batch;
  }
  return perDim.reduce((s, v) => s + Math.max(v, freeBits), 0);
}

/** Runs the layer as in a training step and returns the loss it recorded. */
function recordedLoss(layer: KLDivergenceLayer, inputs: tf.Tensor|tf.Tensor[]): number {
  const out = layer.apply(inputs, {training: true}) as tf.Tensor|tf.Tensor[];
  tf.dispose(out);
  const losses = layer.calculateLosses();
  expect(losses).toHaveLength(1);
  const v = losses[0].dataSync()[0];
  tf.dispose(losses);
  return v;
}

describe.each(NODE_BACKENDS)('KLDivergenceLayer on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  const B = 4;
  const D = 3;
  const muV = Array.from(uniformArray(B * D, 1), (u) => 4 * u - 2);
  const lvV = Array.from(uniformArray(B * D, 2), (u) => 6 * u - 3);

  it('adds the closed-form Gaussian KL (batch mean) and passes inputs through', () => {
    const mu = tf.tensor2d(muV, [B, D]);
    const lv = tf.tensor2d(lvV, [B, D]);
    const layer = tfv.layers.klDivergence();
    expect(layer.losses).toHaveLength(1);
    const out = layer.apply([mu, lv], {training: true}) as tf.Tensor[];
    expectClose(out[0], mu, 0, 0);
    expectClose(out[1], lv, 0, 0);
    const [loss] = layer.calculateLosses();
    expect(loss.shape).toEqual([]);
    expectClose(loss.dataSync()[0], klReference(muV, lvV, B), 1e-5, 1e-5);
    // Read once: the next read without a new application is zero.
    const [again] = layer.calculateLosses();
    expect(again.dataSync()[0]).toBe(0);
    tf.dispose([mu, lv, ...out, loss, again]);
  });

  it('matches KL(N(m, s²) || N(0, 1)) = −log s + (s² + m²)/2 − ½ for a single dimension', () => {
    const m = 0.7;
    const s = 1.9;
    const layer = tfv.layers.klDivergence();
    const v = recordedLoss(layer, [tf.tensor2d([[m]]), tf.tensor2d([[2 * Math.log(s)]])]);
    expectClose(v, -Math.log(s) + (s * s + m * m) / 2 - 0.5, 1e-5);
  });

  it('is zero at the prior and accepts one tensor holding [mu | logVar]', () => {
    expect(recordedLoss(tfv.layers.klDivergence(), tf.zeros([5, 6]))).toBeCloseTo(0, 7);
    const both = tf.concat([tf.tensor2d(muV, [B, D]), tf.tensor2d(lvV, [B, D])], 1);
    expectClose(recordedLoss(tfv.layers.klDivergence(), both), klReference(muV, lvV, B), 1e-5, 1e-5);
  });

  it('scales by weight, and setKLWeight changes it after build', () => {
    const layer = tfv.layers.klDivergence({weight: 0.25});
    const inputs = [tf.tensor2d(muV, [B, D]), tf.tensor2d(lvV, [B, D])];
    expectClose(recordedLoss(layer, inputs), 0.25 * klReference(muV, lvV, B), 1e-5, 1e-5);
    expect(layer.getKLWeight()).toBe(0.25);
    layer.setKLWeight(3);
    expect(layer.getKLWeight()).toBe(3);
    expectClose(recordedLoss(layer, inputs), 3 * klReference(muV, lvV, B), 1e-5, 1e-5);
  });

  it('applies free bits per latent dimension', () => {
    const inputs = [tf.tensor2d(muV, [B, D]), tf.tensor2d(lvV, [B, D])];
    for (const lambda of [0.1, 1, 5]) {
      const v = recordedLoss(tfv.layers.klDivergence({freeBits: lambda}), inputs);
      expectClose(v, klReference(muV, lvV, B, lambda), 1e-5, 1e-5);
    }
  });

  it('sums over every event axis of rank-4 latents', () => {
    const mu = tf.tensor4d(muV, [2, 2, 3, 1]);
    const lv = tf.tensor4d(lvV, [2, 2, 3, 1]);
    expectClose(recordedLoss(tfv.layers.klDivergence(), [mu, lv]), klReference(muV, lvV, 2), 1e-5, 1e-5);
  });

  it('records nothing at inference (predict)', () => {
    const layer = tfv.layers.klDivergence();
    tf.dispose(layer.apply([tf.ones([2, 2]), tf.ones([2, 2])]) as tf.Tensor[]);
    tf.dispose(layer.apply([tf.ones([2, 2]), tf.ones([2, 2])], {training: false}) as tf.Tensor[]);
    const [loss] = layer.calculateLosses();
    expect(loss.dataSync()[0]).toBe(0);
  });

  it('has gradients equal to central finite differences of the closed form', () => {
    const mu = tf.tensor2d(muV, [B, D]);
    const lv = tf.tensor2d(lvV, [B, D]);
    const [gMu, gLv] = tf.grads((m: tf.Tensor, l: tf.Tensor) => tfv.layers.gaussianKL(m, l))([mu, lv]);
    const h = 1e-4;
    const fd = (which: 'mu'|'lv', i: number) => {
      const plus = which === 'mu' ? [...muV] : [...lvV];
      const minus = [...plus];
      plus[i] += h;
      minus[i] -= h;
      const f = (v: number[]) => which === 'mu' ? klReference(v, lvV, B) : klReference(muV, v, B);
      return (f(plus) - f(minus)) / (2 * h);
    };
    expectClose(gMu, muV.map((_, i) => fd('mu', i)), 1e-3, 1e-4);
    expectClose(gLv, lvV.map((_, i) => fd('lv', i)), 1e-3, 1e-4);
  });

  it('gives finite losses and gradients for logVar = ±80 and mu = 1e4', () => {
    const mu = tf.tensor2d([[1e4, -1e4], [0, 1e4]]);
    const lv = tf.tensor2d([[80, -80], [-80, 80]]);
    const [gMu, gLv] = tf.grads((m: tf.Tensor, l: tf.Tensor) => tfv.layers.gaussianKL(m, l))([mu, lv]);
    const v = tfv.layers.gaussianKL(mu, lv).dataSync()[0];
    expect(Number.isFinite(v)).toBe(true);
    for (const g of [gMu, gLv]) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    expectClose(v, klReference([1e4, -1e4, 0, 1e4], [80, -80, -80, 80], 2), 1e-4);
  });

  it('rejects bad arguments and shapes with errors naming them', () => {
    expect(() => tfv.layers.klDivergence({weight: NaN})).toThrow(/weight/);
    expect(() => tfv.layers.klDivergence({freeBits: -1})).toThrow(/freeBits.*non-negative.*-1/);
    expect(() => tfv.layers.klDivergence({weight: -0.5})).toThrow(/weight.*non-negative/);
    const a = tfl.input({shape: [3]});
    const b = tfl.input({shape: [4]});
    expect(() => tfv.layers.klDivergence().apply([a, b])).toThrow(/mu and logVar.*same shape/);
    expect(() => tfv.layers.klDivergence().apply(tfl.input({shape: [5]}))).toThrow(/last axis.*even/);
    expect(() => tfv.layers.klDivergence().apply([a, a, a])).toThrow(/\[mu, logVar\]/);
    const layer = tfv.layers.klDivergence();
    expect(() => layer.setKLWeight(1)).toThrow(/not built/);
  });

  it('counts every application of a layer shared within one model', async () => {
    const shared = tfv.layers.klDivergence({name: 'shared_kl'});
    const identity = tfl.layers.dense({units: 2, useBias: false, kernelInitializer: 'identity'});
    const a = tfl.input({shape: [2]});
    const b = tfl.input({shape: [2]});
    const ha = identity.apply(a) as tfl.SymbolicTensor;
    const hb = identity.apply(b) as tfl.SymbolicTensor;
    const outA = shared.apply([ha, ha]) as tfl.SymbolicTensor[];
    const outB = shared.apply([hb, hb]) as tfl.SymbolicTensor[];
    const sum = tfl.layers.add().apply([outA[0], outB[1]]) as tfl.SymbolicTensor;
    const model = tfl.model({inputs: [a, b], outputs: sum});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    const xa = tf.tensor2d([[0.5, -1], [2, 0]]);
    const xb = tf.tensor2d([[1, 1], [0, -0.5]]);
    const y = tf.zeros([2, 2]);
    const dataTerm = tf.mean(tf.mean(tf.square(tf.add(xa, xb)), -1)).dataSync()[0];
    const kl = klReference([0.5, -1, 2, 0], [0.5, -1, 2, 0], 2) + klReference([1, 1, 0, -0.5], [1, 1, 0, -0.5], 2);
    const h = await model.fit([xa, xb], y, {epochs: 1, batchSize: 2, verbose: 0, validationData: [[xa, xb], y]});
    expectClose(h.history['loss'][0] as number, dataTerm + kl, 1e-5, 1e-5);
    expectClose(h.history['val_loss'][0] as number, dataTerm + kl, 1e-5, 1e-5);
  });

  it('trains a VAE with model.fit and keeps the tensor count flat over 50 steps and 50 predicts', async () => {
    const vae = buildVae({inputDim: 16, hidden: 8, latent: 2});
    vae.compile({optimizer: tf.train.adam(1e-2), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    // Seeded: the VAE's initializers and noise (seed 1) and fit's shuffling (Math.random, above).
    expect(await expectFlatTensorCount(vae, binaryData(100, 16))).toEqual([100, 16]);
  });

  it('round-trips its config', () => {
    const layer = tfv.layers.klDivergence({weight: 0.5, freeBits: 0.25, name: 'kl_x'});
    const config = layer.getConfig();
    expect(config).toMatchObject({weight: 0.5, freeBits: 0.25, name: 'kl_x'});
    const copy = KLDivergenceLayer.fromConfig(KLDivergenceLayer, config) as KLDivergenceLayer;
    expect(copy.getConfig()).toEqual(config);
    expect(tf.serialization.getRegisteredName(KLDivergenceLayer)).toBe('tfv>KLDivergenceLayer');
  });
});

describe('klAnnealing callback', () => {
  beforeAll(async () => useBackend('cpu'));

  it('sets β per epoch, reports it, and the training loss follows data + β·KL exactly', async () => {
    // A deterministic model (no sampling): mu = logVar = x·I, output mu, MSE against zeros.
    const x = tfl.input({shape: [2]});
    const h = tfl.layers.dense({units: 2, useBias: false, kernelInitializer: 'identity'}).apply(x) as tfl.SymbolicTensor;
    const [mu] = tfv.layers.klDivergence({name: 'kl'}).apply([h, h]) as tfl.SymbolicTensor[];
    const model = tfl.model({inputs: x, outputs: mu});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    const xv = [0.5, -1, 2, 0.25];
    const data = xv.reduce((s, v) => s + v * v, 0) / 4;
    const kl = klReference(xv, xv, 2);
    const hist = await model.fit(tf.tensor2d(xv, [2, 2]), tf.zeros([2, 2]), {
      epochs: 3, batchSize: 2, verbose: 0,
      callbacks: [tfv.callbacks.klAnnealing({schedule: (e) => [0, 0.5, 1][e]})],
    });
    expect(hist.history['kl_weight']).toEqual([0, 0.5, 1]);
    expect((model.getLayer('kl') as KLDivergenceLayer).getKLWeight()).toBe(1);
    expectClose(hist.history['loss'] as number[], [data, data + 0.5 * kl, data + kl], 1e-5, 1e-5);
  });

  it('anneals per batch across epochs and validates its arguments', async () => {
    const vae = buildVae({inputDim: 8, hidden: 4});
    vae.compile({optimizer: tf.train.sgd(0), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const seen: number[] = [];
    const kl = vae.getLayer('kl') as KLDivergenceLayer;
    await vae.fit(binaryData(20, 8), binaryData(20, 8), {
      epochs: 2, batchSize: 10, verbose: 0,
      callbacks: [tfv.callbacks.klAnnealing({schedule: (s) => s / 10, unit: 'batch'}),
        new tfl.CustomCallback({onBatchEnd: async () => { seen.push(kl.getKLWeight()); }})],
    });
    expectClose(seen, [0, 0.1, 0.2, 0.3], 1e-6);
    expect(() => tfv.callbacks.klAnnealing({schedule: 3 as unknown as (s: number) => number})).toThrow(/schedule/);
    expect(() => tfv.callbacks.klAnnealing({schedule: () => 1, unit: 'step' as 'batch'})).toThrow(/unit/);
  });
});

describe('KLDivergenceLayer inside tfjs-layers\' executor', () => {
  beforeAll(async () => useBackend('cpu'));

  it('counts one application once although the executor calls a two-output layer once per output', async () => {
    // mu and logVar both feed later layers, so the executor runs the KL layer twice per pass.
    const x = tfl.input({shape: [2]});
    const h = tfl.layers.dense({units: 2, useBias: false, kernelInitializer: 'identity'}).apply(x) as tfl.SymbolicTensor;
    const kl = tfv.layers.klDivergence();
    const [mu, lv] = kl.apply([h, h]) as tfl.SymbolicTensor[];
    const out = tfl.layers.add().apply([mu, lv]) as tfl.SymbolicTensor;
    const model = tfl.model({inputs: x, outputs: out});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    let calls = 0;
    const original = kl.call.bind(kl);
    kl.call = (inputs, kwargs) => { calls++; return original(inputs, kwargs); };
    const xv = [0.5, -1, 2, 0.25];
    const xt = tf.tensor2d(xv, [2, 2]);
    const y = tf.zeros([2, 2]);
    const data = xv.reduce((s, v) => s + 4 * v * v, 0) / 4;
    const hist = await model.fit(xt, y, {epochs: 1, batchSize: 2, verbose: 0, validationData: [xt, y]});
    expect(calls).toBeGreaterThanOrEqual(4);  // two per pass: the case being tested happens
    expectClose(hist.history['loss'][0] as number, data + klReference(xv, xv, 2), 1e-5, 1e-5);
    expectClose(hist.history['val_loss'][0] as number, data + klReference(xv, xv, 2), 1e-5, 1e-5);
    const r = await tfv.evaluateObjective(model, xt, y);
    expectClose(r.layerLosses, klReference(xv, xv, 2), 1e-5, 1e-5);
  });
});

describe('klAnnealing with BayesianDense', () => {
  beforeAll(async () => useBackend('cpu'));

  it('anneals every layer with a divergence multiplier, nested models included', async () => {
    const inner = tfl.sequential({layers: [tfv.layers.bayesianDense({inputShape: [3], units: 2, klWeight: 1, name: 'bd'})]});
    const x = tfl.input({shape: [3]});
    const h = inner.apply(x) as tfl.SymbolicTensor;
    const [mu] = tfv.layers.klDivergence({name: 'kl'}).apply([h, h]) as tfl.SymbolicTensor[];
    const model = tfl.model({inputs: x, outputs: mu});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    expect(tfv.callbacks.findKLLayers(model)).toHaveLength(2);
    await model.fit(tf.ones([4, 3]), tf.zeros([4, 2]), {
      epochs: 2, batchSize: 4, verbose: 0,
      callbacks: [tfv.callbacks.klAnnealing({schedule: (e) => 0.25 * (e + 1)})],
    });
    expect((model.getLayer('kl') as KLDivergenceLayer).getKLWeight()).toBe(0.5);
    expect((inner.getLayer('bd') as unknown as tfv.layers.KLWeighted).getKLWeight()).toBe(0.5);
  });
});
