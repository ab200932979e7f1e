import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {Reparameterize} from '../src/layers/reparameterize';
import {deriveSeed} from '../src/util/seed';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {P_ASSERTION, sampleVarianceRatioBounds, useSeededMathRandom, Z_ASSERTION} from './helpers/random';
import {binaryData, buildVae, expectFlatTensorCount} from './helpers/vae';

// Every draw in this file is seeded: layers get a `seed`, and Math.random (the
// seed of tfjs's unseeded draws and of model.fit's shuffling) is reseeded before
// each test, so outcomes are fixed on a given backend. Statistical tolerances
// are also derived from standard errors (docs/testing.md), so they hold for any
// seed with the false-failure probability stated beside them.
useSeededMathRandom(0x5eed);

function moments(values: ArrayLike<number>, stride: number, offset: number): {mean: number, variance: number} {
  let s = 0;
  let n = 0;
  for (let i = offset; i < values.length; i += stride) { s += values[i]; n++; }
  const mean = s / n;
  let v = 0;
  for (let i = offset; i < values.length; i += stride) v += (values[i] - mean) ** 2;
  return {mean, variance: v / (n - 1)};
}

describe.each(NODE_BACKENDS)('Reparameterize on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('draws samples with mean mu and variance e^logVar (32,768 draws)', () => {
    const n = 32768;
    const muV = [1, -2, 0.5];
    const lvV = [0, Math.log(4), Math.log(0.01)];
    const mu = tf.tile(tf.tensor2d([muV]), [n, 1]);
    const lv = tf.tile(tf.tensor2d([lvV]), [n, 1]);
    const z = tfv.layers.reparameterize({seed: 11}).apply([mu, lv], {training: true}) as tf.Tensor;
    expect(z.shape).toEqual([n, 3]);
    const v = z.dataSync();
    // Seeded (seed 11): deterministic on a given backend. For any seed: each column holds n
    // independent N(mu, sd²) draws, so the sample mean is exactly N(mu, sd²/n): |mean − mu| ≤
    // 5.75·sd/√n fails with P = 8.9e-9; (n − 1)s²/sd² ~ χ²(n − 1), and the Laurent–Massart
    // interval for P_ASSERTION = 1e-8 is s²/sd² ∈ [0.952, 1.049]. 6 assertions × 2 backends:
    // P(false failure) ≤ 1.2e-7 per run.
    const ratio = sampleVarianceRatioBounds(n, P_ASSERTION);
    for (let d = 0; d < 3; d++) {
      const {mean, variance} = moments(v, 3, d);
      const sd = Math.exp(lvV[d] / 2);
      expect(Math.abs(mean - muV[d])).toBeLessThan(Z_ASSERTION * sd / Math.sqrt(n));
      expect(variance / (sd * sd)).toBeGreaterThan(ratio.lo);
      expect(variance / (sd * sd)).toBeLessThan(ratio.hi);
    }
    tf.dispose([mu, lv, z]);
  });

  it('has gradients dz/dmu = 1 and dz/dlogVar = ½ e^{logVar/2} ε, equal to finite differences', () => {
    const muV = [0.3, -1.2, 2];
    const lvV = [-1, 0.5, 3];
    const epsV = [0.7, -1.5, 0.2];
    const f = (m: number[], l: number[]) => m.reduce((s, mi, i) => s + (i + 1) * (mi + Math.exp(l[i] / 2) * epsV[i]), 0);
    const weights = tf.tensor1d([1, 2, 3]);
    const eps = tf.tensor1d(epsV);
    const [gMu, gLv] = tf.grads((m: tf.Tensor, l: tf.Tensor) =>
      tf.sum(tf.mul(weights, tfv.layers.reparameterizeWithNoise(m, l, eps))))([tf.tensor1d(muV), tf.tensor1d(lvV)]);
    const h = 1e-4;
    const fd = (which: 0|1, i: number) => {
      const p = [[...muV], [...lvV]];
      const q = [[...muV], [...lvV]];
      p[which][i] += h;
      q[which][i] -= h;
      return (f(p[0], p[1]) - f(q[0], q[1])) / (2 * h);
    };
    expectClose(gMu, [0, 1, 2].map((i) => fd(0, i)), 1e-3, 1e-3);
    expectClose(gLv, [0, 1, 2].map((i) => fd(1, i)), 1e-3, 1e-3);
  });

  it('is repeatable with a seed, draws fresh noise on every call, and resetSeed replays', () => {
    const mu = tf.zeros([4, 2]);
    const lv = tf.zeros([4, 2]);
    const a = tfv.layers.reparameterize({seed: 5});
    const b = tfv.layers.reparameterize({seed: 5});
    const a1 = a.apply([mu, lv], {training: true}) as tf.Tensor;
    const a2 = a.apply([mu, lv], {training: true}) as tf.Tensor;
    const b1 = b.apply([mu, lv], {training: true}) as tf.Tensor;
    // Seeded. (Two independent draws of 8 normals agree in float32 with P < 1e-50.)
    expectClose(a1, b1, 0, 0);
    expect(Array.from(a1.dataSync())).not.toEqual(Array.from(a2.dataSync()));
    a.resetSeed();
    expectClose(a.apply([mu, lv], {training: true}) as tf.Tensor, a1, 0, 0);
    const c = tfv.layers.reparameterize({seed: 6}).apply([mu, lv], {training: true}) as tf.Tensor;
    expect(Array.from(c.dataSync())).not.toEqual(Array.from(a1.dataSync()));
    // Derived seeds of neighbouring (seed, call) pairs do not collide.
    const seeds = new Set<number>();
    for (let s = 0; s < 50; s++) for (let i = 0; i < 50; i++) seeds.add(deriveSeed(s, i));
    expect(seeds.size).toBe(2500);
  });

  it('samples at inference by default and returns mu with inferenceMode "mean"', () => {
    const mu = tf.tensor2d([[1, 2], [3, 4]]);
    const lv = tf.zeros([2, 2]);
    const sampling = tfv.layers.reparameterize({seed: 1});
    const s1 = sampling.apply([mu, lv]) as tf.Tensor;
    // Seeded; for any seed a unit-variance draw equals mu exactly with P < 1e-7 per element.
    expect(Array.from(s1.dataSync())).not.toEqual([1, 2, 3, 4]);
    const meanMode = tfv.layers.reparameterize({seed: 1, inferenceMode: 'mean'});
    expectClose(meanMode.apply([mu, lv]) as tf.Tensor, mu, 0, 0);
    expectClose(meanMode.apply([mu, lv], {training: false}) as tf.Tensor, mu, 0, 0);
    const trained = meanMode.apply([mu, lv], {training: true}) as tf.Tensor;
    expect(Array.from(trained.dataSync())).not.toEqual([1, 2, 3, 4]);
  });

  it('stacks k samples example-major: row b·k + s is sample s of example b', () => {
    const mu = tf.tensor2d([[1, 10], [-5, 0], [100, 7]]);
    const lv = tf.fill([3, 2], Math.log(1e-6));
    const layer = tfv.layers.reparameterize({samples: 4, seed: 3});
    expect(layer.computeOutputShape([[null, 2], [null, 2]])).toEqual([null, 2]);
    expect(layer.computeOutputShape([[3, 2], [3, 2]])).toEqual([12, 2]);
    const z = layer.apply([mu, lv], {training: true}) as tf.Tensor;
    expect(z.shape).toEqual([12, 2]);
    const rows = z.arraySync() as number[][];
    const muRows = mu.arraySync() as number[][];
    // Seeded (seed 3). For any seed: sd = 1e-3, so the 1e-2 tolerance needs |ε| > 10 for one of
    // 24 draws, P = 24 × 1.5e-23.
    rows.forEach((row, r) => expectClose(row, muRows[Math.floor(r / 4)], 0, 1e-2));
    // the k samples of one example differ
    expect(rows[0][0]).not.toBe(rows[1][0]);
    const meanMode = tfv.layers.reparameterize({samples: 2, inferenceMode: 'mean'});
    expect((meanMode.apply([mu, lv]) as tf.Tensor).arraySync()).toEqual([[1, 10], [1, 10], [-5, 0], [-5, 0], [100, 7], [100, 7]]);
  });

  it('accepts one tensor [mu | logVar] and rank-4 latents', () => {
    const both = tf.concat([tf.fill([2, 3], 5), tf.fill([2, 3], -30)], 1);
    // Seeded (seed 8). For any seed: sd = e^(−15) = 3.1e-7, so the 1e-4 tolerance needs
    // |ε| > 300 to fail, P < 1e-300.
    const z = tfv.layers.reparameterize({seed: 8}).apply(both, {training: true}) as tf.Tensor;
    expect(z.shape).toEqual([2, 3]);
    expectClose(z, tf.fill([2, 3], 5), 0, 1e-4);
    const mu4 = tf.zeros([2, 4, 4, 3]);
    const z4 = tfv.layers.reparameterize({samples: 2}).apply([mu4, mu4], {training: true}) as tf.Tensor;
    expect(z4.shape).toEqual([4, 4, 4, 3]);
  });

  it('stays finite for logVar = ±80 and mu = 1e4', () => {
    const mu = tf.tensor2d([[1e4, -1e4, 0]]);
    const lv = tf.tensor2d([[80, -80, 80]]);
    const z = tfv.layers.reparameterize({seed: 2}).apply([mu, lv], {training: true}) as tf.Tensor;
    expect(Array.from(z.dataSync()).every(Number.isFinite)).toBe(true);
    const eps = tf.tensor2d([[0.5, -0.5, 1]]);
    const g = tf.grads((m: tf.Tensor, l: tf.Tensor) => tf.sum(tfv.layers.reparameterizeWithNoise(m, l, eps)))([mu, lv]);
    for (const t of g) expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
  });

  it('rejects bad arguments and shapes with errors naming them', () => {
    expect(() => tfv.layers.reparameterize({samples: 0})).toThrow(/samples.*positive integer.*samples=0/);
    expect(() => tfv.layers.reparameterize({samples: 1.5})).toThrow(/samples/);
    expect(() => tfv.layers.reparameterize({seed: 0.5})).toThrow(/seed/);
    expect(() => tfv.layers.reparameterize({inferenceMode: 'median' as 'mean'})).toThrow(/inferenceMode.*'sample', 'mean'.*'median'/);
    const a = tfl.input({shape: [3]});
    expect(() => tfv.layers.reparameterize().apply([a, tfl.input({shape: [2]})])).toThrow(/mu and logVar.*same shape/);
    expect(() => tfv.layers.reparameterize().apply(a)).toThrow(/last axis.*even/);
    expect(() => tfv.layers.reparameterize().apply([tf.zeros([3]), tf.zeros([3])])).toThrow(/rank >= 2/);
  });

  it('trains inside model.fit with no tensor leak across 50 steps and 50 predicts (k = 3)', async () => {
    const vae = buildVae({inputDim: 12, hidden: 6, samples: 3});
    vae.compile({optimizer: tf.train.adam(1e-2), loss: tfv.losses.bernoulliNLL({fromLogits: true})});
    // Seeded: the VAE's initializers and noise (seed 1) and fit's shuffling (Math.random, above),
    // so the "training lowered the loss" check inside is deterministic.
    expect(await expectFlatTensorCount(vae, binaryData(100, 12))).toEqual([300, 12]);
  });

  it('round-trips its config', () => {
    const layer = tfv.layers.reparameterize({samples: 3, seed: 9, inferenceMode: 'mean', name: 'z9'});
    const config = layer.getConfig();
    expect(config).toMatchObject({samples: 3, seed: 9, inferenceMode: 'mean', name: 'z9'});
    const copy = Reparameterize.fromConfig(Reparameterize, config) as Reparameterize;
    expect(copy.getConfig()).toEqual(config);
    expect(tfv.layers.reparameterize().getConfig()['seed']).toBeNull();
  });
});
