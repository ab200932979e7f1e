/**
 * tfv.flows.flowPosterior: the Monte Carlo KL of a planar-flow posterior
 * against a float64 recomputation on the same noise, its gradients by central
 * differences, global and amortized flows in model.fit, bound mode (IWAE and
 * estimateLogLikelihood), a round trip, leaks and errors. Every draw is
 * seeded: the layer's i-th draw uses deriveSeed(seed, i), reproduced here,
 * and Math.random (unseeded initializers, fit's shuffling) is reseeded.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {deriveSeed} from '../src/util/seed';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {centralDifference} from './helpers/gradients';
import {roundTripInMemory} from './helpers/io';
import {useSeededMathRandom} from './helpers/random';
import {binaryData, expectFlatTensorCount} from './helpers/vae';

// The flows' default initializers and fit's shuffling draw from Math.random: reseeded before each test.
useSeededMathRandom(0x5eed);

const LOG_2PI = Math.log(2 * Math.PI);
const SEED = 21;
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

interface Planar {u: number[]; w: number[]; b: number}

/** One planar flow in float64 (Rezende & Mohamed's û), one row: [f(z), log|det|]. */
function planar(p: Planar, z: number[]): [number[], number] {
  const dot = (a: number[], c: number[]) => a.reduce((s, v, i) => s + v * c[i], 0);
  const wu = dot(p.w, p.u);
  const ww = dot(p.w, p.w);
  const uHat = p.u.map((ui, i) => ui + (-1 + softplus(wu) - wu) * p.w[i] / ww);
  const a = dot(p.w, z) + p.b;
  const t = Math.tanh(a);
  return [z.map((zi, i) => zi + uHat[i] * t), Math.log(Math.abs(1 + (1 - t * t) * dot(uHat, p.w)))];
}

/** Batch mean of mean_s [log q0(z0) − Σ log det − log N(zK; 0, I)] in float64. */
function klReference(mu: number[][], logVar: number[][], eps: Float64Array, k: number, flows: Planar[]): number {
  const d = mu[0].length;
  let total = 0;
  for (let b = 0; b < mu.length; b++) {
    for (let s = 0; s < k; s++) {
      let z = mu[b].map((m, i) => m + Math.exp(0.5 * logVar[b][i]) * eps[(b * k + s) * d + i]);
      let logQ = mu[b].reduce((acc, _, i) => acc - 0.5 * eps[(b * k + s) * d + i] ** 2 - 0.5 * logVar[b][i] - 0.5 * LOG_2PI, 0);
      for (const f of flows) {
        const [next, ld] = planar(f, z);
        z = next;
        logQ -= ld;
      }
      const logP = z.reduce((acc, v) => acc - 0.5 * v * v - 0.5 * LOG_2PI, 0);
      total += (logQ - logP) / k;
    }
  }
  return total / mu.length;
}

async function planarWeights(layer: tfv.flows.FlowPosterior): Promise<Planar[]> {
  return Promise.all(layer.flows.map(async (f) => {
    const [u, w, b] = await Promise.all(f.getWeights().map((t) => t.data()));
    return {u: Array.from(u), w: Array.from(w), b: b[0]};
  }));
}

function flowVae(flows: number, samples = 1, amortized = false): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({seed: 50 + s});
  const x = tfl.input({shape: [10]});
  const h = tfl.layers.dense({units: 12, activation: 'tanh', kernelInitializer: init(1)}).apply(x);
  const mu = tfl.layers.dense({units: 3, kernelInitializer: init(2)}).apply(h);
  const lv = tfl.layers.dense({units: 3, kernelInitializer: init(3)}).apply(h);
  const planars = Array.from({length: flows}, () => tfv.flows.planarFlow({amortized}));
  const posterior = tfv.flows.flowPosterior({flows: planars, samples, seed: SEED, name: 'q'});
  const inputs = amortized ?
      [mu, lv, tfl.layers.dense({units: posterior.paramSize(3), kernelInitializer: init(4)}).apply(h)] : [mu, lv];
  const z = posterior.apply(inputs);
  const out = tfl.layers.dense({units: 10, kernelInitializer: init(5)}).apply(z);
  return tfl.model({inputs: x, outputs: out as tfl.SymbolicTensor});
}

const bernoulli = () => tfv.losses.bernoulliNLL({fromLogits: true});

describe.each(NODE_BACKENDS)('flowPosterior on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('records the Monte Carlo KL of a 3-flow planar posterior equal to a float64 recomputation on the same noise', async () => {
    const layer = tfv.flows.flowPosterior({flows: [0, 1, 2].map(() => tfv.flows.planarFlow()), samples: 4, seed: SEED});
    const mu = [[0.5, -1, 0.2], [1.5, 0.3, -0.7]];
    const logVar = [[-0.3, 0.4, -1], [0.2, -0.5, 0.1]];
    const [m, v] = [tf.tensor2d(mu), tf.tensor2d(logVar)];
    const z = layer.apply([m, v], {training: true});
    expect(z.shape).toEqual([8, 3]);
    const [loss] = layer.calculateLosses();
    const noise = tf.randomNormal([8, 3], 0, 1, 'float32', deriveSeed(SEED, 0));
    const ref = klReference(mu, logVar, Float64Array.from(noise.dataSync()), 4, await planarWeights(layer));
    expectClose(loss.dataSync()[0], ref, 1e-5, 1e-5);
    tf.dispose([m, v, z, loss, noise]);
  });

  it('gradients of the KL w.r.t. mu, logVar and every flow weight equal float64 central differences', async () => {
    const layer = tfv.flows.flowPosterior({flows: [0, 1].map(() => tfv.flows.planarFlow()), samples: 2, seed: SEED});
    const mu0 = [[0.5, -1, 0.2], [1.5, 0.3, -0.7]];
    const lv0 = [[-0.3, 0.4, -1], [0.2, -0.5, 0.1]];
    const mu = tf.variable(tf.tensor2d(mu0));
    const lv = tf.variable(tf.tensor2d(lv0));
    tf.dispose(layer.apply([mu, lv]));  // builds
    const flows = await planarWeights(layer);
    const noise = tf.randomNormal([4, 3], 0, 1, 'float32', deriveSeed(SEED, 1));
    const eps = Float64Array.from(noise.dataSync());
    const {grads} = tf.variableGrads(() => {
      tf.dispose(layer.apply([mu, lv], {training: true}));
      return layer.calculateLosses()[0];
    });
    const value = () => klReference(mu0, lv0, eps, 2, flows);
    const central = (get: () => number, set: (x: number) => void) => centralDifference(value, get, set);
    const check = (g: tf.Tensor, fd: number[]) => expectClose(Array.from(g.dataSync()), fd, 1e-3, 1e-4);
    check(grads[mu.name], mu0.flatMap((r, b) => r.map((_, i) => central(() => mu0[b][i], (x) => mu0[b][i] = x))));
    check(grads[lv.name], lv0.flatMap((r, b) => r.map((_, i) => central(() => lv0[b][i], (x) => lv0[b][i] = x))));
    layer.flows.forEach((f, j) => {
      const [u, w, b] = f.trainableWeights.map((t) => grads[(t.read() as tf.Variable).name]);
      check(u, flows[j].u.map((_, i) => central(() => flows[j].u[i], (x) => flows[j].u[i] = x)));
      check(w, flows[j].w.map((_, i) => central(() => flows[j].w[i], (x) => flows[j].w[i] = x)));
      check(b, [central(() => flows[j].b, (x) => flows[j].b = x)]);
    });
    tf.dispose([mu, lv, noise, ...Object.values(grads)]);
  });

  it.each([[false], [true]])('a planar-flow VAE (amortized %p) trains with model.fit, logs its KL, and leaks nothing', async (amortized) => {
    const model = flowVae(4, 1, amortized);
    model.compile({optimizer: tf.train.adam(0.01), loss: bernoulli()});
    expect(model.metricsNames).toEqual(['loss', 'reconstruction', 'kl', 'negative_elbo']);
    const q = model.getLayer('q') as tfv.flows.FlowPosterior;
    expect(q.trainableWeights).toHaveLength(amortized ? 0 : 12);  // u, w, b of 4 global flows
    const x = binaryData(100, 10, 61);
    const h = await model.fit(x, x, {epochs: 3, batchSize: 20, shuffle: false, verbose: 0, validationData: [x, x]});
    const val = h.history['val_loss'] as number[];
    expect(val[2]).toBeLessThan(val[0]);
    expect((h.history['kl'] as number[]).every(Number.isFinite)).toBe(true);
    // The leak check trains a fresh model (it also asserts that its loss falls from its first epoch).
    const fresh = flowVae(4, 1, amortized);
    fresh.compile({optimizer: tf.train.adam(0.01), loss: bernoulli()});
    await expectFlatTensorCount(fresh, x);
    x.dispose();
  });

  it('in bound mode (IWAE) it records log-weights instead of its KL; estimateLogLikelihood works unchanged', async () => {
    const model = flowVae(3, 5);
    model.compile({optimizer: tf.train.adam(0.01), loss: tfv.objectives.iwae({likelihood: bernoulli()})});
    const q = model.getLayer('q') as tfv.flows.FlowPosterior;
    expect(q.coveredByBound).toBe(true);
    const x = binaryData(40, 10, 62);
    const h = await model.fit(x, x, {epochs: 2, batchSize: 20, verbose: 0, validationData: [x, x]});
    const at = (key: string) => (h.history[key] as number[])[1];
    expect(at('val_loss')).toBeLessThan(at('val_negative_elbo'));  // IWAE(5) above the 5-sample ELBO
    const r = await tfv.evaluateObjective(model, x, x);
    expect(r.layerLosses).toBe(0);  // the KL is inside the bound
    const e = await tfv.estimateLogLikelihood(model, x, x, {samples: 500});
    expect(e.logLikelihood).toBeGreaterThan(e.elbo);
    expect(e.logLikelihood).toBeLessThan(0);
    model.compile({optimizer: 'sgd', loss: bernoulli()});
    expect(q.coveredByBound).toBe(false);
    x.dispose();
  });

  it('round-trips through tf.io with its flows\' weights, and evaluates identically at a fixed seed', async () => {
    const model = flowVae(2);
    model.compile({optimizer: 'sgd', loss: bernoulli()});
    const x = binaryData(8, 10, 63);
    const loaded = await roundTripInMemory(model);
    loaded.compile({optimizer: 'sgd', loss: bernoulli()});
    expect(loaded.getLayer('q').getConfig()).toEqual(model.getLayer('q').getConfig());
    expect(loaded.getWeights().map((w) => Array.from(w.dataSync()))).toEqual(model.getWeights().map((w) => Array.from(w.dataSync())));
    (model.getLayer('q') as tfv.flows.FlowPosterior).resetSeed();
    const [a, b] = [model.evaluate(x, x) as tf.Scalar, loaded.evaluate(x, x) as tf.Scalar];
    expect(b.dataSync()[0]).toBe(a.dataSync()[0]);
    tf.dispose([a, b, x]);
  });

  it.each([['planar'], ['iaf']])('a model with %s flows that own weights disposes every variable once', (kind) => {
    const x = tfl.input({shape: [4]});
    const mu = tfl.layers.dense({units: 2}).apply(x);
    const lv = tfl.layers.dense({units: 2}).apply(x);
    const flows = kind === 'planar' ? [tfv.flows.planarFlow(), tfv.flows.planarFlow()] :
        [tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 4})];
    const model = tfl.model({inputs: x, outputs: tfv.flows.flowPosterior({flows}).apply([mu, lv]) as tfl.SymbolicTensor});
    const variables = model.weights;
    expect(variables.length).toBeGreaterThan(4);  // the dense layers' and the flows'
    const result = model.dispose();  // threw "LayersVariable … is already disposed" when the flows' weights went twice
    expect(result.numDisposedVariables).toBe(variables.length);
    expect(variables.every((v) => v.read === undefined || (() => { try { v.read(); return false; } catch { return true; } })())).toBe(true);
  });

  it('rejects bad arguments, naming them', () => {
    expect(() => tfv.flows.flowPosterior({flows: []})).toThrow(/flowPosterior: expected flows to be a non-empty array of flow layers/);
    expect(() => tfv.flows.flowPosterior({flows: [tfl.layers.dense({units: 2}) as never]}))
        .toThrow(/expected flows\[0\] to be a flow layer of tfv.flows.*Received: flows\[0\]='Dense'/);
    expect(() => tfv.flows.flowPosterior({flows: [tfv.flows.planarFlow()], sample: 3} as never)).toThrow(/unknown option 'sample'/);
    const amortized = tfv.flows.flowPosterior({flows: [tfv.flows.planarFlow({amortized: true})]});
    expect(() => amortized.apply([tfl.input({shape: [3]}), tfl.input({shape: [3]})]))
        .toThrow(/the amortized flows need params of shape \[batch, 7\].*Received: no params input/);
  });
});
