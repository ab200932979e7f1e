/**
 * klDivergence's prior option: fixed normal priors (closed form), a fixed
 * mixture of Gaussians (Monte Carlo, against a float64 integral), learned
 * priors (weights of the layer, trained by fit, kept by a save), the prior in
 * bound mode, and bad arguments. Every draw is seeded.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {centralDifference} from './helpers/gradients';
import {roundTripInMemory} from './helpers/io';
import {binaryData} from './helpers/vae';
import {useSeededMathRandom} from './helpers/random';

// Unseeded initializers and fit's shuffling draw from Math.random: reseeded before each test.
useSeededMathRandom(0x9a1);

const LOG_2PI = Math.log(2 * Math.PI);
const logNormal = (z: number, m: number, s: number) => -0.5 * ((z - m) / s) ** 2 - Math.log(s) - 0.5 * LOG_2PI;

/** One KL-layer term for [mu, logVar] at training (β = 1): the batch mean of Σ_d KL. */
function term(layer: tfv.layers.KLDivergenceLayer, mu: number[][], logVar: number[][]): number {
  const m = tf.tensor2d(mu);
  const v = tf.tensor2d(logVar);
  const out = layer.apply([m, v], {training: true});
  const [loss] = layer.calculateLosses();
  const value = loss.dataSync()[0];
  tf.dispose([m, v, ...out, loss]);
  return value;
}

function vae(prior: unknown, d = 2, extra: Record<string, unknown> = {}): tfl.LayersModel {
  const init = (s: number) => tfl.initializers.glorotUniform({seed: 90 + s});
  const x = tfl.input({shape: [8]});
  const h = tfl.layers.dense({units: 8, activation: 'tanh', kernelInitializer: init(1)}).apply(x);
  let mu = tfl.layers.dense({units: d, kernelInitializer: init(2)}).apply(h);
  let lv = tfl.layers.dense({units: d, kernelInitializer: init(3)}).apply(h);
  [mu, lv] = tfv.layers.klDivergence({prior: prior as tfv.layers.KLDivergenceLayerArgs['prior'], seed: 4, name: 'kl', ...extra})
      .apply([mu, lv]);
  const z = tfv.layers.reparameterize({seed: 6, samples: 1}).apply([mu, lv]);
  const out = tfl.layers.dense({units: 8, kernelInitializer: init(4)}).apply(z);
  return tfl.model({inputs: x, outputs: out as tfl.SymbolicTensor});
}

describe.each(NODE_BACKENDS)('klDivergence priors on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('a fixed Normal prior gives the closed-form KL against it, element-wise (free bits allowed)', () => {
    const prior = new tfv.distributions.Normal({loc: [1, -0.5], scale: [2, 0.5]});
    const mu = [[0.3, -1.2], [2, 0.1]];
    const lv = [[-0.4, 0.8], [1.1, -2]];
    let ref = 0;
    for (let b = 0; b < 2; b++) {
      for (let d = 0; d < 2; d++) {
        const [lp, sp] = [[1, -0.5][d], [2, 0.5][d]];
        const sq = Math.exp(0.5 * lv[b][d]);
        ref += Math.log(sp / sq) + (sq * sq + (mu[b][d] - lp) ** 2) / (2 * sp * sp) - 0.5;
      }
    }
    expectClose(term(tfv.layers.klDivergence({prior}), mu, lv), ref / 2, 1e-5);
    expect(tfv.layers.klDivergence({prior, freeBits: 0.5}).getConfig()['prior'])
        .toEqual({className: 'Normal', config: {loc: [1, -0.5], scale: [2, 0.5], eventRank: 0}});
  });

  it('a fixed mixture prior: the seeded Monte Carlo KL matches a float64 integral within its standard error', () => {
    // One latent dimension, so KL(q ‖ p) = ∫ q log(q/p) is a 1-D integral on a fine grid.
    const mix = {logits: [0, Math.log(3)], locs: [[-2], [1.5]], scales: [[0.7], [1.2]]};
    const weights = [0.25, 0.75];
    const logP = (z: number) => Math.log(weights.reduce((s, w, k) => s + w * Math.exp(logNormal(z, mix.locs[k][0], mix.scales[k][0])), 0));
    const [m, v] = [0.4, -0.6];
    const s = Math.exp(0.5 * v);
    let kl = 0;
    let second = 0;
    const step = 1e-3;
    for (let z = m - 12 * s; z <= m + 12 * s; z += step) {
      const lq = logNormal(z, m, s);
      const r = lq - logP(z);
      kl += Math.exp(lq) * r * step;
      second += Math.exp(lq) * r * r * step;
    }
    const samples = 20000;
    const se = Math.sqrt((second - kl * kl) / samples);
    const layer = tfv.layers.klDivergence({prior: new tfv.distributions.MixtureOfGaussians(mix), mcSamples: samples, seed: 12});
    const estimate = term(layer, [[m]], [[v]]);
    // Seeded; the bound is also 5.75 standard errors of the 20,000-draw mean (two-sided P ≈ 8.9e-9 for a fresh seed).
    expect(Math.abs(estimate - kl)).toBeLessThan(5.75 * se);
    expect(() => tfv.layers.klDivergence({prior: new tfv.distributions.MixtureOfGaussians(mix), freeBits: 1}))
        .toThrow(/free bits need a KL per latent dimension/);
  });

  it.each([[{learned: 'normal'}], [{learned: 'mixtureOfGaussians', components: 3}]])(
      'a learned prior %j: weights of the layer, trained by fit, kept through tf.io', async (spec) => {
    const model = vae(spec);
    model.compile({optimizer: tf.train.adam(0.05), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    const layer = model.getLayer('kl');
    const names = layer.trainableWeights.map((w) => w.originalName.split('/').pop());
    expect(names).toEqual(spec.learned === 'normal' ? ['prior_loc', 'prior_untransformed_scale'] :
        ['prior_logits', 'prior_locs', 'prior_untransformed_scales']);
    const before = layer.getWeights().map((w) => Array.from(w.dataSync()));
    const x = binaryData(64, 8, 41);
    const h = await model.fit(x, x, {epochs: 3, batchSize: 16, shuffle: false, verbose: 0});
    expect((h.history['loss'] as number[]).every(Number.isFinite)).toBe(true);
    const after = layer.getWeights().map((w) => Array.from(w.dataSync()));
    expect(after.slice(0, names.length)).not.toEqual(before.slice(0, names.length));  // the prior learned
    expect(layer.getConfig()['prior']).toEqual(spec);
    const loaded = await roundTripInMemory(model);
    expect(loaded.getLayer('kl').getWeights().map((w) => Array.from(w.dataSync()))).toEqual(after);
    loaded.compile({optimizer: 'sgd', loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    expect(Number.isFinite((await tfv.evaluateObjective(loaded, x, x)).loss)).toBe(true);
    x.dispose();
  });

  it('in bound mode the reparameterize layer scores z under the KL layer\'s learned prior, which then trains', async () => {
    const model = vae({learned: 'mixtureOfGaussians', components: 2});
    model.compile({optimizer: tf.train.adam(0.05), loss: tfv.objectives.iwae({likelihood: tfv.losses.bernoulliNLL({fromLogits: true})})});
    const layer = model.getLayer('kl');
    const before = layer.getWeights()[1].dataSync().slice();
    const x = binaryData(32, 8, 42);
    await model.fit(x, x, {epochs: 2, batchSize: 16, verbose: 0});
    expect(Array.from(layer.getWeights()[1].dataSync())).not.toEqual(Array.from(before));  // prior_locs got gradients
    x.dispose();
  });

  it('a learned normal prior: gradients w.r.t. mu, logVar and the prior\'s weights equal float64 central differences', () => {
    const layer = tfv.layers.klDivergence({prior: {learned: 'normal'}});
    const mu0 = [[0.3, -1.2, 2], [1.5, 0.1, -0.4]];
    const lv0 = [[-0.4, 0.8, 0.1], [1.1, -2, 0.3]];
    const mu = tf.variable(tf.tensor2d(mu0));
    const lv = tf.variable(tf.tensor2d(lv0));
    tf.dispose(layer.apply([mu, lv]));  // builds the prior's weights
    const [loc, rho] = layer.trainableWeights;
    loc.write(tf.tensor1d([0.5, -0.3, 0.2]));
    rho.write(tf.tensor1d([0.4, -1, 1.3]));
    const {grads} = tf.variableGrads(() => {
      const out = layer.apply([mu, lv], {training: true});
      tf.dispose(out);
      return layer.calculateLosses()[0];
    });
    const sp = (r: number) => 1e-5 + (r > 0 ? r + Math.log1p(Math.exp(-r)) : Math.log1p(Math.exp(r)));
    const ref = (m: number[][], v: number[][], pl: number[], pr: number[]) => {
      let sum = 0;
      for (let b = 0; b < 2; b++) {
        for (let d = 0; d < 3; d++) {
          const [sq, sP] = [Math.exp(0.5 * v[b][d]), sp(pr[d])];
          sum += Math.log(sP / sq) + (sq * sq + (m[b][d] - pl[d]) ** 2) / (2 * sP * sP) - 0.5;
        }
      }
      return sum / 2;
    };
    const params = {mu: mu0.map((r) => r.slice()), lv: lv0.map((r) => r.slice()), loc: [0.5, -0.3, 0.2], rho: [0.4, -1, 1.3]};
    const value = () => ref(params.mu, params.lv, params.loc, params.rho);
    const central = (get: () => number, set: (x: number) => void) => centralDifference(value, get, set);
    const check = (g: tf.Tensor, fd: number[]) => expectClose(Array.from(g.dataSync()), fd, 1e-3, 1e-5);
    check(grads[mu.name], params.mu.flatMap((row, b) => row.map((_, d) => central(() => params.mu[b][d], (x) => params.mu[b][d] = x))));
    check(grads[lv.name], params.lv.flatMap((row, b) => row.map((_, d) => central(() => params.lv[b][d], (x) => params.lv[b][d] = x))));
    check(grads[(loc.read() as tf.Variable).name],
          params.loc.map((_, d) => central(() => params.loc[d], (x) => params.loc[d] = x)));
    check(grads[(rho.read() as tf.Variable).name],
          params.rho.map((_, d) => central(() => params.rho[d], (x) => params.rho[d] = x)));
    tf.dispose([mu, lv, ...Object.values(grads)]);
  });

  it('rejects priors it cannot use or save, naming them', () => {
    expect(() => tfv.layers.klDivergence({prior: 'laplace' as never}))
        .toThrow(/klDivergence: expected prior to be 'standardNormal', a distribution of tfv.distributions.*Received: prior='laplace'/);
    const fromTensors = new tfv.distributions.Normal({loc: tf.zeros([2]), scale: tf.ones([2])});
    expect(() => tfv.layers.klDivergence({prior: fromTensors})).toThrow(/fixed \(number\) parameters, so that it can be saved/);
    expect(() => tfv.layers.klDivergence({prior: new tfv.distributions.Bernoulli({probs: [0.5]})}))
        .toThrow(/a Normal or a MixtureOfGaussians/);
    expect(() => tfv.layers.klDivergence({prior: {learned: 'mixtureOfGaussians'} as never}))
        .toThrow(/expected prior.components to be a positive integer/);
    expect(() => tfv.layers.klDivergence({prior: {learned: 'flow'} as never})).toThrow(/prior.learned/);
    expect(() => tfv.layers.klDivergence({mcSamples: 0})).toThrow('klDivergence: expected mcSamples to be a positive integer. Received: mcSamples=0');
    fromTensors.loc instanceof tf.Tensor && tf.dispose([fromTensors.loc as tf.Tensor, fromTensors.scale as tf.Tensor]);
  });
});
