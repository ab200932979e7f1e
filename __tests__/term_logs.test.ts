/**
 * Per-term logs: fit's history and evaluateObjective carry the data term and
 * each divergence unweighted (no β, no free bits), so a β-VAE or free-bits
 * run still shows its true negative ELBO; evaluate and trainOnBatch keep
 * their return values. Every draw here is seeded (layer and initializer
 * seeds; fit runs without shuffling), so every figure is fixed on a backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {binaryData, buildVae, expectFlatTensorCount} from './helpers/vae';
import {useSeededMathRandom} from './helpers/random';

// Unseeded initializers and fit's shuffling draw from Math.random: reseeded before each test.
useSeededMathRandom(0x7e1);

const D = 12;
const LATENT = 3;

interface Options {
  weight?: number;
  freeBits?: number;
  bayesian?: boolean;
}

/** A small VAE: Dense encoder, KL (β, free bits), deterministic-at-inference z, Dense (or BayesianDense) decoder. */
function smallVae({weight = 1, freeBits = 0, bayesian = false}: Options = {}): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({seed: 40 + s});
  const x = tfl.input({shape: [D]});
  const h = tfl.layers.dense({units: 16, activation: 'tanh', kernelInitializer: init(1)}).apply(x);
  let mu = tfl.layers.dense({units: LATENT, kernelInitializer: init(2), name: 'mu'}).apply(h);
  let logVar = tfl.layers.dense({units: LATENT, kernelInitializer: init(3), name: 'log_var'}).apply(h);
  [mu, logVar] = tfv.layers.klDivergence({weight, freeBits, name: 'kl_z'}).apply([mu, logVar]);
  const z = tfv.layers.reparameterize({seed: 5, inferenceMode: 'mean'}).apply([mu, logVar]);
  const out = bayesian ?
      tfv.layers.bayesianDense({units: D, numExamples: 64, inferenceMode: 'mean', seed: 9, name: 'bd',
                                kernelLocInitializer: init(4)}).apply(z) :
      tfl.layers.dense({units: D, kernelInitializer: init(4)}).apply(z);
  return tfl.model({inputs: x, outputs: out as tfl.SymbolicTensor});
}

/** Float64 references on data `x`: Bernoulli NLL of the logits, KL per example, and free-bits surrogate. */
async function references(model: tfl.LayersModel, x: tf.Tensor, freeBits = 0) {
  const encoder = tfl.model({inputs: model.inputs, outputs: [model.getLayer('mu').output, model.getLayer('log_var').output] as tfl.SymbolicTensor[]});
  const [muT, logVarT] = encoder.predict(x) as tf.Tensor[];
  const logitsT = model.predict(x) as tf.Tensor;
  const [mu, logVar, logits, xs] = await Promise.all([muT.data(), logVarT.data(), logitsT.data(), x.data()]);
  tf.dispose([muT, logVarT, logitsT]);
  const n = x.shape[0];
  let nll = 0;
  for (let i = 0; i < xs.length; i++) {
    const l = logits[i];
    nll += (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l))) - xs[i] * l;
  }
  const klPerDim = new Array(LATENT).fill(0);
  for (let i = 0; i < mu.length; i++) {
    klPerDim[i % LATENT] += 0.5 * (Math.exp(logVar[i]) + mu[i] * mu[i] - 1 - logVar[i]) / n;
  }
  const kl = klPerDim.reduce((a, b) => a + b, 0);
  const surrogate = klPerDim.reduce((a, b) => a + Math.max(freeBits, b), 0);
  return {data: nll / n, kl, surrogate};
}

/** Σ KL(N(μ, σ²) ‖ N(0, 1)) over a BayesianDense kernel, in float64 (σ = 1e-5 + softplus(ρ)). */
async function kernelKL(model: tfl.LayersModel): Promise<number> {
  const layer = model.getLayer('bd');
  const byName = (weight: string) => layer.weights.find((w) => new RegExp(`/${weight}(_\\d+)?$`).test(w.name))!.read().data();
  const [loc, rho] = await Promise.all([byName('kernel_loc'), byName('kernel_untransformed_scale')]);
  let kl = 0;
  for (let i = 0; i < loc.length; i++) {
    const r = rho[i];
    const s = 1e-5 + (r > 0 ? r + Math.log1p(Math.exp(-r)) : Math.log1p(Math.exp(r)));
    kl += 0.5 * (s * s + loc[i] * loc[i]) - 0.5 - Math.log(s);
  }
  return kl;
}

const bernoulli = () => tfv.losses.bernoulliNLL({fromLogits: true});

describe.each(NODE_BACKENDS)('per-term logs on %s', (backend) => {
  beforeAll(async () => useBackend(backend));
  afterEach(() => tfv.setTermLogs(true));

  it('adds reconstruction, kl and negative_elbo to metricsNames of a model with one divergence layer', () => {
    const vae = smallVae();
    vae.compile({optimizer: 'sgd', loss: bernoulli()});
    expect(vae.metricsNames).toEqual(['loss', 'reconstruction', 'kl', 'negative_elbo']);
    const seq = tfl.sequential({layers: [tfl.layers.dense({inputShape: [4], units: 2})]});
    seq.compile({optimizer: 'sgd', loss: 'meanSquaredError', metrics: ['mse']});
    expect(seq.metricsNames).toEqual(['loss', 'mse']);  // no divergence layer: tfjs's names only
  });

  it('with β = 0.5 and free bits 2, val_kl and val_negative_elbo are the true KL and negative ELBO, ' +
     'val_loss the trained surrogate', async () => {
    const [beta, freeBits] = [0.5, 2];
    const vae = smallVae({weight: beta, freeBits});
    vae.compile({optimizer: tf.train.adam(1e-2), loss: bernoulli()});
    const x = binaryData(64, D, 11);
    const xVal = binaryData(32, D, 12);
    const h = await vae.fit(x, x, {epochs: 2, batchSize: 32, shuffle: false, verbose: 0, validationData: [xVal, xVal]});
    for (const key of ['loss', 'reconstruction', 'kl', 'negative_elbo']) {
      expect(h.history[key]).toHaveLength(2);
      expect(h.history[`val_${key}`]).toHaveLength(2);
    }
    const ref = await references(vae, xVal, freeBits);
    // Free bits are active (some dimension's KL is below λ), so surrogate and true KL differ.
    expect(ref.surrogate - ref.kl).toBeGreaterThan(0.1);
    const at = (key: string) => (h.history[key] as number[])[1];
    expectClose(at('val_reconstruction'), ref.data, 1e-4);
    expectClose(at('val_kl'), ref.kl, 1e-4, 1e-5);
    expectClose(at('val_negative_elbo'), ref.data + ref.kl, 1e-4);
    expectClose(at('val_loss'), ref.data + beta * ref.surrogate, 1e-4);
    // evaluateObjective gives the same split.
    const r = await tfv.evaluateObjective(vae, xVal, xVal, {batchSize: 32});
    expect(Object.keys(r.divergences)).toEqual(['kl']);
    expectClose(r.divergences['kl'], ref.kl, 1e-4, 1e-5);
    expectClose(r.negativeElbo, ref.data + ref.kl, 1e-4);
    expectClose(r.loss, ref.data + beta * ref.surrogate, 1e-4);
    expectClose(r.dataTerm, ref.data, 1e-4);
    tf.dispose([x, xVal]);
  });

  it('the training kl of an epoch is the true KL on the training data, and negative_elbo = reconstruction + kl', async () => {
    // Learning rate 0: the weights stay put, so the epoch's batch-size-weighted mean is the dataset mean.
    const vae = smallVae({weight: 3});
    vae.compile({optimizer: tf.train.sgd(0), loss: bernoulli()});
    const x = binaryData(48, D, 13);
    const h = await vae.fit(x, x, {epochs: 1, batchSize: 20, shuffle: false, verbose: 0});
    const ref = await references(vae, x);
    const at = (key: string) => (h.history[key] as number[])[0];
    expectClose(at('kl'), ref.kl, 1e-4, 1e-5);
    expectClose(at('negative_elbo'), at('reconstruction') + at('kl'), 1e-5, 1e-5);
    expectClose(at('loss'), at('reconstruction') + 3 * at('kl'), 1e-5, 1e-5);
    x.dispose();
  });

  it('names one entry per divergence layer after the layer when there are several (BayesianDense: KL/N)', async () => {
    const vae = smallVae({bayesian: true});
    vae.compile({optimizer: tf.train.adam(1e-2), loss: bernoulli()});
    expect(vae.metricsNames).toEqual(['loss', 'reconstruction', 'kl_z', 'bd', 'negative_elbo']);
    const x = binaryData(64, D, 14);
    const h = await vae.fit(x, x, {epochs: 1, batchSize: 32, shuffle: false, verbose: 0, validationData: [x, x]});
    const ref = await references(vae, x);
    const weightKL = await kernelKL(vae) / 64;
    expectClose((h.history['val_bd'] as number[])[0], weightKL, 1e-4);
    expectClose((h.history['val_kl_z'] as number[])[0], ref.kl, 1e-4, 1e-5);
    const r = await tfv.evaluateObjective(vae, x, x);
    expect(Object.keys(r.divergences)).toEqual(['kl_z', 'bd']);
    expectClose(r.divergences['bd'], weightKL, 1e-4);
    expectClose(r.negativeElbo, ref.data + ref.kl + weightKL, 1e-4);
    x.dispose();
  });

  it('evaluate, evaluateDataset and trainOnBatch return what they returned without the extra entries', async () => {
    const vae = smallVae();
    vae.compile({optimizer: 'sgd', loss: bernoulli()});
    const x = binaryData(16, D, 15);
    const before = tf.memory().numTensors;
    const e = vae.evaluate(x, x);
    expect(e).toBeInstanceOf(tf.Tensor);
    (e as tf.Scalar).dispose();
    expect(tf.memory().numTensors).toBe(before);  // the dropped values are freed
    expect(typeof await vae.trainOnBatch(x, x)).toBe('number');
    const withMetric = smallVae();
    withMetric.compile({optimizer: 'sgd', loss: bernoulli(), metrics: [(yTrue: tf.Tensor, yPred: tf.Tensor) => tf.mean(tf.abs(tf.sub(yTrue, yPred)), -1)]});
    const out = withMetric.evaluate(x, x) as tf.Scalar[];
    expect(out).toHaveLength(2);
    const ds = {iterator: async () => {
      let done = false;
      return {next: async () => {
        if (done) return {done: true, value: null};
        done = true;
        return {done: false, value: {xs: x, ys: x}};
      }};
    }};
    const fromDataset = await vae.evaluateDataset(ds as unknown as Parameters<tfl.LayersModel['evaluateDataset']>[0], {});
    expect(fromDataset).toBeInstanceOf(tf.Tensor);
    tf.dispose([out, fromDataset as tf.Scalar, x]);
  });

  it('setTermLogs(false) leaves models compiled afterwards with tfjs\'s metrics only', () => {
    tfv.setTermLogs(false);
    expect(tfv.isTermLogs()).toBe(false);
    const vae = smallVae();
    vae.compile({optimizer: 'sgd', loss: bernoulli()});
    expect(vae.metricsNames).toEqual(['loss']);
    expect(() => tfv.setTermLogs('no' as unknown as boolean)).toThrow(/expected enabled to be a boolean. Received: enabled=no/);
  });

  it('tf.sequential VAEs get them too, and 50 steps with the logs leak no tensor', async () => {
    const vae = buildVae({inputDim: 20, hidden: 8, latent: 2, seed: 2});
    vae.compile({optimizer: tf.train.adam(1e-3), loss: bernoulli()});
    const x = binaryData(100, 20, 16);
    await expectFlatTensorCount(vae, x);
    const seq = tfl.sequential({layers: [
      tfl.layers.dense({inputShape: [D], units: 2 * LATENT}),
      tfv.layers.klDivergence(),
      tfv.layers.reparameterize({seed: 1}),
      tfl.layers.dense({units: D}),
    ]});
    seq.compile({optimizer: 'adam', loss: bernoulli()});
    expect(seq.metricsNames).toEqual(['loss', 'reconstruction', 'kl', 'negative_elbo']);
    const xs = binaryData(8, D, 17);
    const h = await seq.fit(xs, xs, {epochs: 1, batchSize: 8, verbose: 0});
    expect(h.history['kl'][0]).toBeGreaterThan(0);
    tf.dispose([x, xs]);
  });
});
