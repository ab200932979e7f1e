/**
 * Bound losses (tfv.objectives): values and gradients against a float64
 * reference of the whole model on the same noise, bound mode (the KL layer's
 * closed form is replaced by the per-sample terms), fit/evaluate/val_loss,
 * logs, a round trip, leaks and errors. Every draw is seeded: the
 * reparameterize layer's i-th draw uses deriveSeed(seed, i), reproduced here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {clearLogWeights, recordLogWeights, takeLogWeights} from '../src/engine/log_weights';
import {deriveSeed} from '../src/util/seed';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {roundTripInMemory} from './helpers/io';
import {binaryData, expectFlatTensorCount} from './helpers/vae';
import {useSeededMathRandom} from './helpers/random';

// Unseeded initializers and fit's shuffling draw from Math.random: reseeded before each test.
useSeededMathRandom(0xb1);

const D = 6;
const H = 4;
const L = 2;
const SEED = 11;
const LOG_2PI = Math.log(2 * Math.PI);

function vae(k: number, withKL = true, name = 'z'): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.randomNormal({mean: 0, stddev: 0.6, seed: 70 + s});
  const x = tfl.input({shape: [D]});
  const h = tfl.layers.dense({units: H, activation: 'tanh', kernelInitializer: init(1), biasInitializer: init(2), name: 'enc'}).apply(x);
  let mu = tfl.layers.dense({units: L, kernelInitializer: init(3), biasInitializer: init(4), name: 'mu'}).apply(h);
  let lv = tfl.layers.dense({units: L, kernelInitializer: init(5), biasInitializer: init(6), name: 'lv'}).apply(h);
  if (withKL) [mu, lv] = tfv.layers.klDivergence({name: 'kl'}).apply([mu, lv]);
  const z = tfv.layers.reparameterize({samples: k, seed: SEED, name}).apply([mu, lv]);
  const out = tfl.layers.dense({units: D, kernelInitializer: init(7), biasInitializer: init(8), name: 'dec'}).apply(z);
  return tfl.model({inputs: x, outputs: out as tfl.SymbolicTensor});
}

const bernoulli = () => tfv.losses.bernoulliNLL({fromLogits: true});
type Bound = 'elbo'|'iwae'|number;  // a number is the Rényi α
function boundLoss(b: Bound) {
  if (b === 'elbo') return tfv.objectives.elbo({likelihood: bernoulli()});
  if (b === 'iwae') return tfv.objectives.iwae({likelihood: bernoulli()});
  return tfv.objectives.renyi({alpha: b, likelihood: bernoulli()});
}

interface Weights {[name: string]: Float64Array}

async function readWeights(model: tfl.LayersModel): Promise<Weights> {
  const w: Weights = {};
  for (const layer of ['enc', 'mu', 'lv', 'dec']) {
    const [kernel, bias] = model.getLayer(layer).getWeights();
    w[`${layer}/kernel`] = Float64Array.from(await kernel.data());
    w[`${layer}/bias`] = Float64Array.from(await bias.data());
  }
  return w;
}

function dense(x: Float64Array, rows: number, inDim: number, kernel: Float64Array, bias: Float64Array, out: number,
               act?: (v: number) => number): Float64Array {
  const y = new Float64Array(rows * out);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < out; j++) {
      let s = bias[j];
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * kernel[i * out + j];
      y[r * out + j] = act ? act(s) : s;
    }
  }
  return y;
}

const softplus = (l: number) => (l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l)));

/** Per-example log-weights [b][s] in float64 for data x [n, D], noise eps [n·k, L] (example-major). */
function logWeights(w: Weights, x: Float64Array, n: number, k: number, eps: Float64Array): number[][] {
  const h = dense(x, n, D, w['enc/kernel'], w['enc/bias'], H, Math.tanh);
  const mu = dense(h, n, H, w['mu/kernel'], w['mu/bias'], L);
  const lv = dense(h, n, H, w['lv/kernel'], w['lv/bias'], L);
  const z = new Float64Array(n * k * L);
  const out: number[][] = [];
  for (let b = 0; b < n; b++) {
    out.push([]);
    for (let s = 0; s < k; s++) {
      let logQ = 0;
      let logP = 0;
      for (let d = 0; d < L; d++) {
        const e = eps[(b * k + s) * L + d];
        const v = mu[b * L + d] + Math.exp(0.5 * lv[b * L + d]) * e;
        z[(b * k + s) * L + d] = v;
        logQ += -0.5 * e * e - 0.5 * lv[b * L + d] - 0.5 * LOG_2PI;
        logP += -0.5 * v * v - 0.5 * LOG_2PI;
      }
      out[b].push(logP - logQ);
    }
  }
  const logits = dense(z, n * k, L, w['dec/kernel'], w['dec/bias'], D);
  for (let b = 0; b < n; b++) {
    for (let s = 0; s < k; s++) {
      let nll = 0;
      for (let j = 0; j < D; j++) {
        const l = logits[(b * k + s) * D + j];
        nll += softplus(l) - x[b * D + j] * l;
      }
      out[b][s] -= nll;
    }
  }
  return out;
}

function lse(v: number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((a, x) => a + Math.exp(x - m), 0));
}

/** Mean over examples of the negative bound. */
function negBound(b: Bound, lw: number[][]): number {
  const k = lw[0].length;
  const per = lw.map((row) => {
    if (b === 'elbo' || b === 1) return row.reduce((a, x) => a + x, 0) / k;
    if (b === 'iwae') return lse(row) - Math.log(k);
    return (lse(row.map((x) => (1 - b) * x)) - Math.log(k)) / (1 - b);
  });
  return -per.reduce((a, x) => a + x, 0) / per.length;
}

/** The noise of the layer's `draw`-th draw of [rows, L] (seeded as reparameterize draws it). */
async function noise(rows: number, draw = 0): Promise<Float64Array> {
  const t = tf.randomNormal([rows, L], 0, 1, 'float32', deriveSeed(SEED, draw));
  const v = Float64Array.from(await t.data());
  t.dispose();
  return v;
}

describe.each(NODE_BACKENDS)('bound losses on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it.each([['elbo'], ['iwae'], [0], [0.5], [1], [-0.5]] as Array<[Bound]>)(
      'evaluate reports the negative %p bound of a float64 recomputation on the same noise', async (b) => {
    const k = 3;
    const n = 8;
    const model = vae(k);
    model.compile({optimizer: 'sgd', loss: boundLoss(b)});
    const x = binaryData(n, D, 31);
    const ref = negBound(b, logWeights(await readWeights(model), Float64Array.from(await x.data()), n, k, await noise(n * k)));
    (model.getLayer('z') as tfv.layers.Reparameterize).resetSeed();
    const loss = model.evaluate(x, x, {batchSize: n}) as tf.Scalar;
    expectClose(loss.dataSync()[0], ref, 1e-5, 1e-5);
    tf.dispose([loss, x]);
  });

  it('ELBO ≤ Rényi(½) ≤ IWAE on the same draws, IWAE(k=1) = ELBO(k=1), α = 0 is IWAE', async () => {
    const x = Float64Array.from(await binaryData(8, D, 32).data());
    const model = vae(4);
    const w = await readWeights(model);
    const lw = logWeights(w, x, 8, 4, await noise(32));
    const [e, r, i] = [negBound('elbo', lw), negBound(0.5, lw), negBound('iwae', lw)];
    expect(e).toBeGreaterThan(r);
    expect(r).toBeGreaterThan(i);
    expect(negBound(0, lw)).toBeCloseTo(i, 12);
    const one = logWeights(w, x, 8, 1, await noise(8));
    expect(negBound('iwae', one)).toBeCloseTo(negBound('elbo', one), 12);
    model.dispose();
  });

  it('gradients of the IWAE loss w.r.t. every weight equal central differences of the float64 reference', async () => {
    const k = 3;
    const n = 5;
    const model = vae(k);
    const loss = boundLoss('iwae');
    model.compile({optimizer: 'sgd', loss});
    const x = binaryData(n, D, 33);
    const xs = Float64Array.from(await x.data());
    const eps = await noise(n * k);
    const w = await readWeights(model);
    (model.getLayer('z') as tfv.layers.Reparameterize).resetSeed();
    const {grads, value} = tf.variableGrads(() => tf.mean(loss(x, model.apply(x, {training: true}) as tf.Tensor)) as tf.Scalar);
    expectClose(value.dataSync()[0], negBound('iwae', logWeights(w, xs, n, k, eps)), 1e-5, 1e-5);
    let checked = 0;
    for (const variable of model.trainableWeights) {
      const key = Object.keys(w).find((name) => variable.originalName.startsWith(name.split('/')[0] + '/') &&
                                                variable.originalName.endsWith(name.split('/')[1]))!;
      const g = grads[variable.name].dataSync();
      for (let i = 0; i < w[key].length; i++) {
        const h = 1e-6;
        const orig = w[key][i];
        w[key][i] = orig + h;
        const up = negBound('iwae', logWeights(w, xs, n, k, eps));
        w[key][i] = orig - h;
        const down = negBound('iwae', logWeights(w, xs, n, k, eps));
        w[key][i] = orig;
        const fd = (up - down) / (2 * h);
        if (!(Math.abs(g[i] - fd) <= 1e-4 + 1e-3 * Math.abs(fd))) {
          throw new Error(`${key}[${i}]: autodiff ${g[i]} vs central difference ${fd}`);
        }
        checked++;
      }
    }
    expect(checked).toBe(D * H + H + 2 * (H * L + L) + L * D + D);
    tf.dispose([x, value, ...Object.values(grads)]);
  });

  it('bound mode replaces the KL layer\'s closed form; compiling with a likelihood loss restores the ELBO', async () => {
    const n = 8;
    const model = vae(2);
    const x = binaryData(n, D, 34);
    model.compile({optimizer: 'sgd', loss: boundLoss('elbo')});
    expect((model.getLayer('kl') as tfv.layers.KLDivergenceLayer).coveredByBound).toBe(true);
    const bound = await tfv.evaluateObjective(model, x, x, {batchSize: n});
    expect(bound.layerLosses).toBe(0);  // no closed-form KL on top of the bound
    expect(Object.keys(bound.divergences)).toEqual(['kl']);
    expectClose(bound.negativeElbo, bound.loss, 1e-5, 1e-5);  // the k-sample ELBO is this bound
    model.compile({optimizer: 'sgd', loss: bernoulli()});
    expect((model.getLayer('kl') as tfv.layers.KLDivergenceLayer).coveredByBound).toBe(false);
    expect(model.metricsNames).toEqual(['loss', 'reconstruction', 'kl', 'negative_elbo']);
    const elbo = await tfv.evaluateObjective(model, x, x, {batchSize: n});
    expect(elbo.layerLosses).toBeGreaterThan(0);  // the closed-form KL again
    expectClose(elbo.loss, elbo.dataTerm + elbo.layerLosses, 1e-6);
    x.dispose();
  });

  it('fit with IWAE (k = 5) lowers the validation bound and logs its Monte Carlo terms; 50 steps leak nothing', async () => {
    const model = vae(5);
    model.compile({optimizer: tf.train.adam(0.02), loss: boundLoss('iwae')});
    expect(model.metricsNames).toEqual(['loss', 'reconstruction', 'kl', 'negative_elbo']);
    const x = binaryData(100, D, 35);
    const h = await model.fit(x, x, {epochs: 4, batchSize: 25, shuffle: false, verbose: 0, validationData: [x, x]});
    const val = h.history['val_loss'] as number[];
    expect(val[3]).toBeLessThan(val[0]);
    for (let e = 0; e < 4; e++) {
      const at = (key: string) => (h.history[key] as number[])[e];
      // IWAE ≥ ELBO on the same draws: the negative bound is below the k-sample negative ELBO.
      expect(at('val_loss')).toBeLessThan(at('val_negative_elbo'));
      expectClose(at('val_negative_elbo'), at('val_reconstruction') + at('val_kl'), 1e-5, 1e-5);
    }
    // The leak check trains a fresh model (it also asserts that its loss falls from its first epoch).
    const fresh = vae(5);
    fresh.compile({optimizer: tf.train.adam(0.02), loss: boundLoss('iwae')});
    await expectFlatTensorCount(fresh, x);
    x.dispose();
  });

  it('a bound-compiled model round-trips through tf.io and evaluates identically at a fixed seed', async () => {
    const model = vae(3);
    model.compile({optimizer: 'sgd', loss: boundLoss('iwae')});
    const x = binaryData(8, D, 36);
    const loaded = await roundTripInMemory(model);
    loaded.compile({optimizer: 'sgd', loss: boundLoss('iwae')});
    (model.getLayer('z') as tfv.layers.Reparameterize).resetSeed();
    const a = model.evaluate(x, x, {batchSize: 8}) as tf.Scalar;
    const b = loaded.evaluate(x, x, {batchSize: 8}) as tf.Scalar;
    expect(b.dataSync()[0]).toBe(a.dataSync()[0]);
    tf.dispose([a, b, x]);
  });

  it('rejects bad arguments and models it cannot serve, naming what is wrong', () => {
    expect(() => tfv.objectives.iwae({} as never)).toThrow(/iwae: expected likelihood to be a likelihood loss of tfv.losses/);
    expect(() => tfv.objectives.iwae({likelihood: 'binaryCrossentropy'} as never)).toThrow(/Received: likelihood='binaryCrossentropy'/);
    expect(() => tfv.objectives.renyi({likelihood: bernoulli(), alpha: NaN})).toThrow('renyi: expected alpha to be a finite number. Received: alpha=NaN');
    expect(() => tfv.objectives.elbo({likelihood: bernoulli(), samples: 3} as never)).toThrow("elbo: unknown option 'samples'. Known options: likelihood");
    const plain = tfl.sequential({layers: [tfl.layers.dense({inputShape: [D], units: D})]});
    expect(() => plain.compile({optimizer: 'sgd', loss: boundLoss('iwae')}))
        .toThrow(/has a bound loss \(tfv.objectives\) but no tfv.layers.reparameterize layer/);
    const loss = boundLoss('iwae');
    expect(() => loss(tf.zeros([2, D]), tf.zeros([2, D]))).toThrow(/iwae: no latent layer recorded per-sample log-weights/);
  });

  it('the log-weight channel: records sum over latents, a mismatch of samples is a clear error, nothing leaks', () => {
    clearLogWeights();  // the last step's taken tensors, kept until the next record
    const before = tf.memory().numTensors;
    recordLogWeights('a', tf.ones([4, 2]));
    recordLogWeights('b', tf.fill([4, 2], 2));
    const sum = takeLogWeights('iwae', 4, 2);
    expect(Array.from(sum.dataSync())).toEqual([3, 3, 3, 3, 3, 3, 3, 3]);
    sum.dispose();
    recordLogWeights('c', tf.ones([4, 3]));
    expect(() => takeLogWeights('iwae', 4, 2)).toThrow(
        /iwae: the latent layer drew \[4,3\] samples \(\[batch, samples\]\) but the decoder output holds 2 sample\(s\) for each of 4 examples/);
    expect(() => recordLogWeights('d', tf.ones([4]))).toThrow("d: log-weights must be [batch, samples]. Received: shape [4]");
    clearLogWeights();
    expect(tf.memory().numTensors).toBe(before + 1);  // the rejected rank-1 tensor was never taken over
  });
});
