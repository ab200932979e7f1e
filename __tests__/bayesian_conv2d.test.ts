import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import {inverseSoftplusScale, SCALE_FLOOR, softplusScale} from '../src/distributions/normal';
import {randomSigns, standardNormal} from '../src/distributions/random';
import {BayesianConv2D, bayesianConv2d, BayesianConv2DArgs} from '../src/layers/bayesian_conv2d';
import {
  flipoutOutput, LinearPosterior, localReparameterizationOutput, meanOutput, registeredEstimatorNames, registerEstimator,
  reparameterizationOutput,
} from '../src/layers/variational/estimators';
import {conv2dOp, Conv2DOpArgs} from '../src/layers/variational/linear_ops';
import {deriveSeed} from '../src/util/seed';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {centralDifference} from './helpers/gradients';
import {roundTripInMemory} from './helpers/io';
import {ConformanceCase, describeLayerConformance} from './helpers/layer_conformance';
import {normalTwoSidedTail, normalUpperTail, sampleVarianceRatioBounds, uniform, useSeededMathRandom} from './helpers/random';

// Every draw in this file is seeded: layers get a `seed`, initialisers their own seeds, and
// Math.random (tfjs's seed for unseeded draws and fit's shuffling) is reseeded before each test,
// so every outcome is fixed on a backend. The Monte Carlo moments below also state tolerances
// from the exact distribution of the outputs (docs/testing.md).
useSeededMathRandom(0xc02d);

const ESTIMATORS = ['reparameterization', 'localReparameterization', 'flipout'] as const;
type Estimator = typeof ESTIMATORS[number];

// ------------------------------------------------------------ float64 references

const softplus64 = (r: number) => (r > 0 ? r + Math.log1p(Math.exp(-r)) : Math.log1p(Math.exp(r)));
const scale64 = (rho: number) => SCALE_FLOOR + softplus64(rho);
const gaussKL64 = (m: number, s: number, sp: number) => Math.log(sp / s) + (s * s + m * m) / (2 * sp * sp) - 0.5;

type Shape4 = [number, number, number, number];

interface ConvGeometry {
  strides: [number, number];
  padding: 'valid'|'same';
  dilations: [number, number];
}

/** The output shape and the input index (or −1 for padding) of each output's kernel tap, as tf.conv2d (NHWC). */
function convTaps(xShape: Shape4, kShape: Shape4, g: ConvGeometry) {
  const [, h, w] = xShape;
  const [kh, kw] = kShape;
  const eff = [(kh - 1) * g.dilations[0] + 1, (kw - 1) * g.dilations[1] + 1];
  const out = g.padding === 'same' ? [Math.ceil(h / g.strides[0]), Math.ceil(w / g.strides[1])] :
      [Math.ceil((h - eff[0] + 1) / g.strides[0]), Math.ceil((w - eff[1] + 1) / g.strides[1])];
  const pad = g.padding === 'same' ? [0, 1].map((a) => Math.floor(Math.max((out[a] - 1) * g.strides[a] + eff[a] - [h, w][a], 0) / 2)) : [0, 0];
  return {out, pad};
}

/** y = conv(x, k) in float64, NHWC, flat row-major arrays. */
function conv64(x: number[], xShape: Shape4, k: number[], kShape: Shape4, g: ConvGeometry): {y: number[], shape: Shape4} {
  const [n, h, w, c] = xShape;
  const [kh, kw, , f] = kShape;
  const {out, pad} = convTaps(xShape, kShape, g);
  const y: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < out[0]; i++) {
      for (let j = 0; j < out[1]; j++) {
        for (let o = 0; o < f; o++) {
          let s = 0;
          for (let a = 0; a < kh; a++) {
            const r = i * g.strides[0] + a * g.dilations[0] - pad[0];
            if (r < 0 || r >= h) continue;
            for (let bb = 0; bb < kw; bb++) {
              const q = j * g.strides[1] + bb * g.dilations[1] - pad[1];
              if (q < 0 || q >= w) continue;
              for (let ci = 0; ci < c; ci++) s += x[((b * h + r) * w + q) * c + ci] * k[((a * kw + bb) * c + ci) * f + o];
            }
          }
          y.push(s);
        }
      }
    }
  }
  return {y, shape: [n, out[0], out[1], f]};
}

interface ConvCase {
  x: number[]; xShape: Shape4; kShape: Shape4; g: ConvGeometry;
  mu: number[]; rho: number[]; bMu: number[]; bRho: number[];
}

interface ConvNoise {
  eps: number[]; epsB: number[]; zeta: number[];
  /** [batch, in] and [batch, filters] signs, shared by the positions. */
  s: number[]; r: number[];
}

/** Each estimator's output in float64 for fixed noise (a Bayesian bias). */
function estimatorConv64(est: Estimator, c: ConvCase, z: ConvNoise): number[] {
  const [n, h, w, ci] = c.xShape;
  const f = c.kShape[3];
  const sigma = c.rho.map(scale64);
  const sb = c.bRho.map(scale64);
  const mean = conv64(c.x, c.xShape, c.mu, c.kShape, c.g);
  const per = mean.y.length / n;
  const fIndex = (k: number) => k % f;
  const example = (k: number) => Math.floor(k / per);
  if (est === 'reparameterization') {
    const wSample = c.mu.map((m, i) => m + sigma[i] * z.eps[i]);
    return conv64(c.x, c.xShape, wSample, c.kShape, c.g).y.map((v, k) => v + c.bMu[fIndex(k)] + sb[fIndex(k)] * z.epsB[fIndex(k)]);
  }
  if (est === 'localReparameterization') {
    const v = conv64(c.x.map((t) => t * t), c.xShape, sigma.map((s) => s * s), c.kShape, c.g).y;
    return mean.y.map((m, k) => m + c.bMu[fIndex(k)] + Math.sqrt(v[k] + sb[fIndex(k)] ** 2) * z.zeta[k]);
  }
  const xs = c.x.map((t, idx) => t * z.s[Math.floor(idx / (h * w * ci)) * ci + (idx % ci)]);
  const p = conv64(xs, c.xShape, sigma.map((s, i) => s * z.eps[i]), c.kShape, c.g).y;
  return mean.y.map((m, k) => m + c.bMu[fIndex(k)] +
      (p[k] + sb[fIndex(k)] * z.epsB[fIndex(k)]) * z.r[example(k) * f + fIndex(k)]);
}

const shortName = (w: {originalName: string}) => w.originalName.split('/').pop()!;

function weightValues(layer: tfl.layers.Layer): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const w of layer.weights) out[shortName(w)] = Array.from(w.read().dataSync());
  return out;
}

function setWeightValues(layer: tfl.layers.Layer, values: Record<string, number[]>): void {
  for (const w of layer.weights) {
    const v = values[shortName(w)];
    if (v !== undefined) {
      const t = tf.tensor(v, w.shape as number[]);
      w.write(t);
      t.dispose();
    }
  }
}

/** A conv case with seeded values; geometry as given. */
function convCase(xShape: Shape4, kShape: Shape4, g: ConvGeometry, seed: number): ConvCase {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return {
    x: uniform(size(xShape), seed, -1.5, 1.5), xShape, kShape, g,
    mu: uniform(size(kShape), seed + 1, -0.8, 0.8), rho: uniform(size(kShape), seed + 2, -3, 0.5),
    bMu: uniform(kShape[3], seed + 3, -0.5, 0.5), bRho: uniform(kShape[3], seed + 4, -2, 0),
  };
}

function posteriorTensors(c: ConvCase): LinearPosterior {
  return {
    kernelLoc: tf.tensor(c.mu, c.kShape), kernelScale: softplusScale(tf.tensor(c.rho, c.kShape)),
    biasLoc: tf.tensor1d(c.bMu), biasScale: softplusScale(tf.tensor1d(c.bRho)),
  };
}

function layerFor(c: ConvCase, args: Partial<BayesianConv2DArgs>): BayesianConv2D {
  const layer = bayesianConv2d({
    filters: c.kShape[3], kernelSize: [c.kShape[0], c.kShape[1]], strides: c.g.strides, padding: c.g.padding,
    dilationRate: c.g.dilations, klWeight: 1, bayesianBias: true, ...args,
  });
  tf.dispose(layer.apply(tf.zeros(c.xShape)) as tf.Tensor);
  setWeightValues(layer, {kernel_loc: c.mu, kernel_untransformed_scale: c.rho, bias_loc: c.bMu, bias_untransformed_scale: c.bRho});
  layer.resetSeed();  // the build's predict drew noise: the next draw is the seed's first again
  return layer;
}

const GEOMETRIES: Array<[string, ConvGeometry]> = [
  ['3×2 kernel, strides 2, same', {strides: [2, 2], padding: 'same', dilations: [1, 1]}],
  ['valid, strides [1, 2]', {strides: [1, 2], padding: 'valid', dilations: [1, 1]}],
  ['same, dilation 2', {strides: [1, 1], padding: 'same', dilations: [2, 2]}],
];

describe.each(NODE_BACKENDS)('BayesianConv2D on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it('creates the posterior weights as BayesianDense names them, one loss closure, and Conv2D output shapes', () => {
    const layer = bayesianConv2d({filters: 4, kernelSize: [3, 2], numExamples: 10, bayesianBias: true});
    expect(layer.losses).toHaveLength(1);
    const out = layer.apply(tfl.input({shape: [9, 8, 3]}));
    expect(out.shape).toEqual([null, 7, 7, 4]);
    expect(layer.trainableWeights.map(shortName)).toEqual(
        ['kernel_loc', 'kernel_untransformed_scale', 'bias_loc', 'bias_untransformed_scale']);
    expect(layer.trainableWeights[0].shape).toEqual([3, 2, 3, 4]);
    expect(layer.nonTrainableWeights.map(shortName)).toEqual(['kl_weight']);
    // The output shapes of tfjs's own Conv2D for the same arguments (symbolic and concrete).
    const shapes: Array<[Partial<BayesianConv2DArgs>, number[]]> = [
      [{strides: 2, padding: 'same'}, [9, 8, 3]], [{strides: [2, 3]}, [9, 8, 3]], [{dilationRate: 2, padding: 'same'}, [9, 8, 3]],
      [{dilationRate: [2, 1]}, [9, 8, 3]], [{padding: 'same', strides: 3}, [5, 5, 1]],
    ];
    for (const [args, inShape] of shapes) {
      const mine = bayesianConv2d({filters: 2, kernelSize: 3, klWeight: 0, ...args});
      const theirs = tfl.layers.conv2d({filters: 2, kernelSize: 3, ...args} as Parameters<typeof tfl.layers.conv2d>[0]);
      const symbolic = mine.apply(tfl.input({shape: inShape}));
      expect(symbolic.shape).toEqual((theirs.apply(tfl.input({shape: inShape})) as tfl.SymbolicTensor).shape);
      const y = mine.apply(tf.zeros([2, ...inShape]), {training: true});
      expect(y.shape).toEqual([2, ...symbolic.shape.slice(1)]);
      tf.dispose([y, ...mine.calculateLosses()]);
    }
    const noBias = bayesianConv2d({filters: 2, kernelSize: 1, klWeight: 1, useBias: false});
    noBias.apply(tfl.input({shape: [3, 3, 2]}));
    expect(noBias.trainableWeights.map(shortName)).toEqual(['kernel_loc', 'kernel_untransformed_scale']);
  });

  it.each(GEOMETRIES)('the posterior-mean output equals tf.conv2d with the loc kernel plus bias_loc (%s)', (_t, g) => {
    const c = convCase([2, 7, 6, 3], [3, 2, 3, 4], g, 40);
    const layer = layerFor(c, {inferenceMode: 'mean', activation: 'tanh'});
    const x = tf.tensor(c.x, c.xShape);
    const y = layer.apply(x);
    const v = weightValues(layer);
    const expected = tf.tanh(tf.add(tf.conv2d(x as tf.Tensor4D, tf.tensor(v['kernel_loc'], c.kShape) as tf.Tensor4D,
        g.strides, g.padding, 'NHWC', g.dilations), tf.tensor1d(v['bias_loc'])));
    expectClose(y, expected, 1e-6, 1e-6);
    const ref = conv64(c.x, c.xShape, c.mu, c.kShape, g).y.map((s, k) => Math.tanh(s + c.bMu[k % 4]));
    expectClose(y, ref, 1e-5, 1e-5);
    // Deterministic outside training: a second predict is the same.
    expectClose(layer.apply(x), y, 0, 0);
    tf.dispose([x, y, expected]);
  });

  it('channelsFirst gives the channels-last output transposed', () => {
    const c = convCase([2, 6, 5, 3], [3, 3, 3, 2], {strides: [2, 1], padding: 'same', dilations: [1, 1]}, 50);
    for (const estimator of ESTIMATORS) {
      const last = layerFor(c, {estimator, seed: 8});
      const first = bayesianConv2d({filters: 2, kernelSize: 3, strides: [2, 1], padding: 'same', klWeight: 1, bayesianBias: true,
        estimator, seed: 8, dataFormat: 'channelsFirst'});
      expect(first.apply(tfl.input({shape: [3, 6, 5]})).shape).toEqual([null, 2, 3, 5]);
      setWeightValues(first, weightValues(last));
      const x = tf.tensor(c.x, c.xShape);
      // Same seed, same draw order and shapes (the layer computes channels last): the same sample.
      const yLast = last.apply(x, {training: true});
      const yFirst = first.apply(tf.transpose(x, [0, 3, 1, 2]), {training: true});
      expectClose(yFirst, tf.transpose(yLast, [0, 3, 1, 2]), 1e-6, 1e-6);
      tf.dispose([x, yLast, yFirst, ...last.calculateLosses(), ...first.calculateLosses()]);
    }
  });

  it.each(ESTIMATORS)('%s: the layer\'s seeded training draw equals the estimator\'s formula with that noise', (estimator) => {
    const g: ConvGeometry = {strides: [1, 1], padding: 'same', dilations: [1, 1]};
    const c = convCase([2, 5, 4, 3], [3, 2, 3, 2], g, 60);
    const seed = 21;
    const layer = layerFor(c, {estimator, seed});
    const x = tf.tensor(c.x, c.xShape);
    const y = layer.apply(x, {training: true});
    // The layer's draw order (one seed per draw): reparameterization and flipout draw ε [3, 2, 3, 2]
    // then ε_b [2], flipout then s [2, 1, 1, 3] and r [2, 1, 1, 2]; local reparameterization draws ζ,
    // the output's shape [2, 5, 4, 2].
    const drawn = (i: number, shape: number[], signs = false) =>
      Array.from((signs ? randomSigns(shape, deriveSeed(seed, i)) : standardNormal(shape, deriveSeed(seed, i))).dataSync());
    const noise: ConvNoise = estimator === 'localReparameterization' ?
        {eps: [], epsB: [], s: [], r: [], zeta: drawn(0, [2, 5, 4, 2])} :
        {eps: drawn(0, c.kShape), epsB: drawn(1, [2]), zeta: [],
          s: estimator === 'flipout' ? drawn(2, [2, 1, 1, 3], true) : [], r: estimator === 'flipout' ? drawn(3, [2, 1, 1, 2], true) : []};
    expectClose(y, estimatorConv64(estimator, c, noise), 1e-5, 1e-5);
    tf.dispose([x, y, ...layer.calculateLosses()]);
  });

  it('flipout with every sign +1 is reparameterization with the same noise', () => {
    const g: ConvGeometry = {strides: [2, 1], padding: 'valid', dilations: [1, 1]};
    const c = convCase([3, 6, 5, 2], [2, 3, 2, 3], g, 70);
    const op = conv2dOp(g as Conv2DOpArgs);
    tf.tidy(() => {
      const x = tf.tensor(c.x, c.xShape);
      const q = posteriorTensors(c);
      const kernel = standardNormal(c.kShape, 5);
      const bias = standardNormal([3], 6);
      const rep = reparameterizationOutput(op, x, q, {kernel, bias});
      const flip = flipoutOutput(op, x, q, {kernel, bias, inputSigns: tf.ones([3, 1, 1, 2]), outputSigns: tf.ones([3, 1, 1, 3])});
      expectClose(flip, rep, 1e-5, 1e-5);
      // With every sign −1 the kernel's perturbation keeps its sign ((−s)(−r) = s r) and the bias's, flipped
      // by r only, changes sign: reparameterization with −ε_b.
      const both = flipoutOutput(op, x, q, {kernel, bias, inputSigns: tf.fill([3, 1, 1, 2], -1), outputSigns: tf.fill([3, 1, 1, 3], -1)});
      expectClose(both, reparameterizationOutput(op, x, q, {kernel, bias: tf.neg(bias)}), 1e-5, 1e-5);
      // The mean is the estimators' common centre.
      expectClose(meanOutput(op, x, q), conv64(c.x, c.xShape, c.mu, c.kShape, g).y.map((v, k) => v + c.bMu[k % 3]), 1e-5, 1e-5);
    });
  });

  it.each(ESTIMATORS)('%s: records klWeight × the closed-form Gaussian KL once per application, nothing at predict', (estimator) => {
    const c = convCase([2, 5, 5, 2], [3, 3, 2, 3], {strides: [1, 1], padding: 'valid', dilations: [1, 1]}, 80);
    const layer = layerFor(c, {estimator, priorScale: 0.5, seed: 2, klWeight: undefined, numExamples: 40});
    const x = tf.tensor(c.x, c.xShape);
    tf.dispose(layer.apply(x, {training: true}));
    const [loss] = layer.calculateLosses();
    let kl = 0;
    c.mu.forEach((m, i) => { kl += gaussKL64(m, scale64(c.rho[i]), 0.5); });
    c.bMu.forEach((m, i) => { kl += gaussKL64(m, scale64(c.bRho[i]), 0.5); });
    expectClose(loss.dataSync()[0], kl / 40, 1e-5, 1e-6);
    tf.dispose(layer.apply(x));
    const [none] = layer.calculateLosses();
    expect(none.dataSync()[0]).toBe(0);
    tf.dispose([x, loss, none]);
  });

  it.each(ESTIMATORS)('%s: gradients in μ, ρ, μ_b, ρ_b with fixed noise equal central differences of the float64 formula', (estimator) => {
    const g: ConvGeometry = {strides: [1, 1], padding: 'same', dilations: [1, 1]};
    const c = convCase([2, 4, 3, 2], [2, 2, 2, 2], g, 90);
    const outSize = 2 * 4 * 3 * 2;
    const noise: ConvNoise = {
      eps: uniform(16, 91, -2, 2), epsB: uniform(2, 92, -2, 2), zeta: uniform(outSize, 93, -2, 2),
      s: uniform(4, 94).map((u) => (u < 0.5 ? 1 : -1)), r: uniform(4, 95).map((u) => (u < 0.5 ? 1 : -1)),
    };
    const weights = uniform(outSize, 96, -1, 1);
    const op = conv2dOp(g as Conv2DOpArgs);
    const xT = tf.tensor(c.x, c.xShape);
    const wT = tf.tensor(weights, [2, 4, 3, 2]);
    const run = (q: LinearPosterior) => {
      if (estimator === 'reparameterization') {
        return reparameterizationOutput(op, xT, q, {kernel: tf.tensor(noise.eps, c.kShape), bias: tf.tensor1d(noise.epsB)});
      }
      if (estimator === 'localReparameterization') {
        return localReparameterizationOutput(op, xT, q, {output: tf.tensor(noise.zeta, [2, 4, 3, 2])});
      }
      return flipoutOutput(op, xT, q, {kernel: tf.tensor(noise.eps, c.kShape), bias: tf.tensor1d(noise.epsB),
        inputSigns: tf.tensor(noise.s, [2, 1, 1, 2]), outputSigns: tf.tensor(noise.r, [2, 1, 1, 2])});
    };
    const f = (kl: tf.Tensor, kr: tf.Tensor, bl: tf.Tensor, br: tf.Tensor) =>
      tf.sum(tf.mul(wT, run({kernelLoc: kl, kernelScale: softplusScale(kr), biasLoc: bl, biasScale: softplusScale(br)})));
    expectClose(run(posteriorTensors(c)), estimatorConv64(estimator, c, noise), 1e-5, 1e-5);
    const grads = tf.grads(f)([tf.tensor(c.mu, c.kShape), tf.tensor(c.rho, c.kShape), tf.tensor1d(c.bMu), tf.tensor1d(c.bRho)]);
    const objective64 = () => estimatorConv64(estimator, c, noise).reduce((s, v, k) => s + v * weights[k], 0);
    (['mu', 'rho', 'bMu', 'bRho'] as const).forEach((field, k) => {
      const fd = c[field].map((_, i) => centralDifference(objective64, () => c[field][i], (v) => { c[field][i] = v; }, 1e-6));
      expectClose(grads[k], fd, 1e-3, 1e-4);
    });
    tf.dispose([xT, wT, ...grads]);
  });

  it.each(['localReparameterization', 'flipout'] as const)(
      '%s: each output\'s mean and variance over 2,000 draws are conv(x, μ) + μ_b and conv(x², σ²) + σ_b²', (estimator) => {
        const g: ConvGeometry = {strides: [1, 1], padding: 'same', dilations: [1, 1]};
        const c = convCase([2, 4, 4, 2], [3, 3, 2, 2], g, 100);
        const layer = layerFor(c, {estimator, seed: 13});
        const x = tf.tensor(c.x, c.xShape);
        const calls = 2000;
        const draws: Float32Array[] = [];
        for (let s = 0; s < calls; s++) {
          const y = layer.apply(x);  // inferenceMode 'sample': the estimator's draw
          draws.push(y.dataSync() as Float32Array);
          y.dispose();
        }
        const mean = conv64(c.x, c.xShape, c.mu, c.kShape, g).y.map((v, k) => v + c.bMu[k % 2]);
        const variance = conv64(c.x.map((t) => t * t), c.xShape, c.rho.map((r) => scale64(r) ** 2), c.kShape, g).y
            .map((v, k) => v + scale64(c.bRho[k % 2]) ** 2);
        // Each output of one call is exactly N(mean, variance) — local reparameterization samples it so;
        // flipout's is r·(a normal of variance Σx²σ² + σ_b², independent of the signs), and the mean part —
        // and draws of different calls are independent. Outputs of one call are not (flipout shares ε),
        // so each checked output is taken once per call. Checked: a corner output (padded taps) and an
        // interior one of the second example, each (filter 1) mean within z standard errors and sample
        // variance in the χ²(1999) Laurent–Massart interval, at P ≤ 1e-9 per assertion: 6 assertions ×
        // 2 estimators × 2 backends = 24 at 1e-9, 2.4e-8 in all (the budget of 2.4 standard assertions).
        const p = 1e-9;
        let z = 6;
        while (normalTwoSidedTail(z) > p) z += 0.01;
        expect(normalUpperTail(z)).toBeLessThan(p);
        const ratio = sampleVarianceRatioBounds(calls, p);
        const per = 4 * 4 * 2;
        for (const k of [0 * 2 + 1, per + (1 * 4 + 2) * 2 + 1]) {
          let s1 = 0;
          let s2 = 0;
          for (const d of draws) {
            s1 += d[k];
            s2 += d[k] * d[k];
          }
          const m = s1 / calls;
          const v = (s2 - calls * m * m) / (calls - 1);
          expect(Math.abs(m - mean[k])).toBeLessThan(z * Math.sqrt(variance[k] / calls));
          expect(v / variance[k]).toBeGreaterThan(ratio.lo);
          expect(v / variance[k]).toBeLessThan(ratio.hi);
        }
        x.dispose();
      });

  it('stays finite at ρ = ±50, inputs of 1e4 and an all-zero image, in values, KL and gradients', () => {
    const x = tf.concat([tf.fill([1, 3, 3, 2], 1e4), tf.zeros([1, 3, 3, 2])], 0);
    for (const estimator of ESTIMATORS) {
      for (const prior of ['gaussian', 'scaleMixture']) {
        const layer = bayesianConv2d({filters: 2, kernelSize: 2, klWeight: 1, estimator, prior, useBias: false, seed: 2});
        tf.dispose(layer.apply(x));
        setWeightValues(layer, {kernel_untransformed_scale: Array.from({length: 16}, (_, i) => (i % 2 === 0 ? -50 : 50))});
        const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
        const {value, grads} = tf.variableGrads(() => {
          const y = layer.apply(x, {training: true});
          const [kl] = layer.calculateLosses();
          return tf.add(tf.mean(y), kl) as tf.Scalar;
        }, vars);
        expect(Number.isFinite(value.dataSync()[0])).toBe(true);
        for (const gr of Object.values(grads)) expect(Array.from(gr.dataSync()).every(Number.isFinite)).toBe(true);
        tf.dispose([value, ...Object.values(grads)]);
      }
    }
    x.dispose();
  });

  it('includes klWeight × KL in evaluate and tfv.evaluateObjective, and Monte Carlo predictions differ', async () => {
    const c = convCase([6, 4, 4, 1], [2, 2, 1, 2], {strides: [1, 1], padding: 'valid', dilations: [1, 1]}, 110);
    const layer = layerFor(c, {priorScale: 0.5, inferenceMode: 'mean', klWeight: undefined, numExamples: 30});
    const input = tfl.input({shape: [4, 4, 1]});
    const model = tfl.model({inputs: input, outputs: layer.apply(input)});
    model.compile({optimizer: tf.train.sgd(0), loss: 'meanSquaredError'});
    const x = tf.tensor(c.x, c.xShape);
    const y = tf.zeros([6, 3, 3, 2]);
    let kl = 0;
    c.mu.forEach((m, i) => { kl += gaussKL64(m, scale64(c.rho[i]), 0.5); });
    c.bMu.forEach((m, i) => { kl += gaussKL64(m, scale64(c.bRho[i]), 0.5); });
    const r = await tfv.evaluateObjective(model, x, y, {batchSize: 4});
    expectClose(r.layerLosses, kl / 30, 1e-5, 1e-6);
    const mean = conv64(c.x, c.xShape, c.mu, c.kShape, c.g).y.map((v, k) => v + c.bMu[k % 2]);
    expectClose(r.dataTerm, mean.reduce((s, v) => s + v * v, 0) / mean.length, 1e-4, 1e-6);
    layer.inferenceMode = 'sample';
    const a = model.predict(x) as tf.Tensor;
    const b = model.predict(x) as tf.Tensor;
    expect(Array.from(a.dataSync())).not.toEqual(Array.from(b.dataSync()));
    tf.dispose([x, y, a, b]);
    model.dispose();
  });
});

describe.each(NODE_BACKENDS)('every registered prior through the Bayesian layers on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  it.each(['gaussian', 'scaleMixture', 'conjugate', 'conjugateKnownMean', 'empiricalBayes'])(
      '%s: binds to each weight tensor (learnable prior weights named by role), trains and round-trips', async (prior) => {
        const conv = bayesianConv2d({filters: 2, kernelSize: 2, prior, bayesianBias: true, numExamples: 100, seed: 1,
          inferenceMode: 'mean', name: 'bc', kernelLocInitializer: tfl.initializers.glorotNormal({seed: 4})});
        const dense = tfv.layers.bayesianDense({units: 1, prior, numExamples: 100, seed: 2, inferenceMode: 'mean', name: 'bd',
          kernelLocInitializer: tfl.initializers.glorotNormal({seed: 5})});
        const model = tfl.sequential({layers: [tfl.layers.inputLayer({inputShape: [4, 4, 1]}), conv, tfl.layers.flatten(), dense]});
        const names = conv.trainableWeights.map(shortName);
        expect(names.slice(0, 2)).toEqual(['kernel_loc', 'kernel_untransformed_scale']);
        // A learnable prior parameter of the kernel comes right after the kernel's posterior, prefixed 'kernel_'.
        const extra = names.filter((n) => !['kernel_loc', 'kernel_untransformed_scale', 'bias_loc', 'bias_untransformed_scale'].includes(n));
        expect(extra.every((n) => n.startsWith('kernel_') || n.startsWith('bias_'))).toBe(true);
        if (prior === 'empiricalBayes') expect(extra).toEqual(['kernel_prior_untransformed_scale', 'bias_prior_untransformed_scale']);
        model.compile({optimizer: tf.train.adam(0.02), loss: 'meanSquaredError'});
        const x = tf.tensor(uniform(16 * 16, 130, -1, 1), [16, 4, 4, 1]);
        const y = tf.tensor(uniform(16, 131, -1, 1), [16, 1]);
        // Seeded (layer seeds, initialisers, Math.random for the rest, no shuffle): fixed on a backend.
        const h = await model.fit(x, y, {epochs: 15, batchSize: 8, verbose: 0, shuffle: false});
        const loss = h.history['loss'] as number[];
        expect(loss.every(Number.isFinite)).toBe(true);
        expect(loss[loss.length - 1]).toBeLessThan(loss[0]);
        const r = await tfv.evaluateObjective(model, x, y);
        expect(Number.isFinite(r.layerLosses)).toBe(true);
        const loaded = await roundTripInMemory(model);
        expect(loaded.getLayer('bc').getConfig()).toEqual(conv.getConfig());
        expect(loaded.getLayer('bc').trainableWeights.map(shortName)).toEqual(names);
        expectClose(loaded.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor, 0, 0);
        tf.dispose([x, y]);
        model.dispose();
      });
});

describe('BayesianConv2D configuration and errors', () => {
  beforeAll(async () => useBackend('cpu'));

  it('lists every constructor argument in getConfig and is registered under tfv', () => {
    const layer = bayesianConv2d({filters: 3, kernelSize: [3, 1], strides: [1, 2], padding: 'same', dataFormat: 'channelsFirst',
      activation: 'relu', bayesianBias: true, estimator: 'flipout', prior: 'scaleMixture', numExamples: 100,
      inferenceMode: 'mean', seed: 4, kernelLocInitializer: 'heNormal',
      kernelUntransformedScaleInitializer: tfl.initializers.constant({value: inverseSoftplusScale(0.01)}), name: 'bc'});
    expect(layer.getConfig()).toMatchObject({filters: 3, kernelSize: [3, 1], strides: [1, 2], padding: 'same',
      dataFormat: 'channelsFirst', dilationRate: [1, 1], activation: 'relu', useBias: true, bayesianBias: true,
      estimator: 'flipout', prior: {className: 'ScaleMixturePrior'}, numExamples: 100, klWeight: null,
      inferenceMode: 'mean', seed: 4, name: 'bc'});
    for (const k of ['kernelLocInitializer', 'kernelUntransformedScaleInitializer', 'biasLocInitializer', 'biasUntransformedScaleInitializer']) {
      expect(layer.getConfig()).toHaveProperty(k);
    }
    expect(bayesianConv2d({filters: 1, kernelSize: 2, klWeight: 1}).getConfig()).toMatchObject({kernelSize: [2, 2],
      strides: [1, 1], padding: 'valid', dataFormat: 'channelsLast', estimator: 'reparameterization', prior: {className: 'GaussianPrior'},
      inferenceMode: 'sample', seed: null, numExamples: null, klWeight: 1});
    expect(tf.serialization.getRegisteredName(BayesianConv2D)).toBe('tfv>BayesianConv2D');
    expect(tfv.layers.bayesianConv2d).toBe(bayesianConv2d);
  });

  it('rejects bad arguments and shapes with errors naming them', () => {
    const ok: BayesianConv2DArgs = {filters: 2, kernelSize: 3, numExamples: 10};
    const bad = (args: Partial<Record<keyof BayesianConv2DArgs, unknown>>) => () => bayesianConv2d({...ok, ...args} as BayesianConv2DArgs);
    expect(bad({filters: 0})).toThrow('bayesianConv2d: expected filters to be a positive integer. Received: filters=0');
    expect(bad({filters: 2.5})).toThrow(/filters.*Received: filters=2.5/);
    expect(bad({kernelSize: 0})).toThrow(/kernelSize to be a positive integer. Received: kernelSize=0/);
    expect(bad({kernelSize: [3]})).toThrow(/kernelSize to be a positive integer or a pair \[h, w\].*Received: kernelSize=\[3\]/);
    expect(bad({kernelSize: [3, 0]})).toThrow(/kernelSize.*Received: kernelSize=\[3, 0\]/);
    expect(bad({kernelSize: undefined})).toThrow(/kernelSize.*Received: kernelSize=undefined/);
    expect(bad({strides: [1, 1.5]})).toThrow(/strides.*Received: strides=\[1, 1.5\]/);
    expect(bad({strides: -1})).toThrow(/strides to be a positive integer. Received: strides=-1/);
    expect(bad({dilationRate: 'two'})).toThrow(/dilationRate.*Received: dilationRate='two'/);
    expect(bad({strides: 2, dilationRate: 2})).toThrow(/strides or dilationRate to be 1.*Received: strides=\[2,2\], dilationRate=\[2,2\]/);
    expect(bad({padding: 'full'})).toThrow(/padding to be one of 'valid', 'same'. Received: padding='full'/);
    expect(bad({dataFormat: 'NHWC'})).toThrow(/dataFormat to be one of 'channelsLast', 'channelsFirst'. Received: dataFormat='NHWC'/);
    expect(bad({estimator: 'bogus'})).toThrow(
        /estimator to be one of 'reparameterization', 'localReparameterization', 'flipout'. Received: estimator='bogus'/);
    expect(bad({inferenceMode: 'max'})).toThrow(/inferenceMode.*Received: inferenceMode='max'/);
    expect(bad({numExamples: undefined})).toThrow(/bayesianConv2d: expected numExamples.*or klWeight/);
    expect(bad({klWeight: 1})).toThrow(/only one of numExamples and klWeight/);
    expect(bad({prior: 'cauchy'})).toThrow(/prior.*Received: prior='cauchy'/);
    expect(bad({useBias: false, bayesianBias: true})).toThrow(/bayesianBias/);
    expect(bad({activation: 'nope'})).toThrow(/activation.*Received: activation='nope'/);
    expect(bad({seed: -1})).toThrow('bayesianConv2d: expected seed to be a non-negative integer. Received: seed=-1');
    expect(bad({filtres: 3} as Record<string, unknown>)).toThrow(/^bayesianConv2d: unknown option 'filtres'. Known options: filters, kernelSize/);
    expect(() => bayesianConv2d(undefined as unknown as BayesianConv2DArgs)).toThrow(/args to be an options object with filters, kernelSize/);
    // Shapes: rank 3 (symbolic and concrete), an unknown channel axis, a second input of another depth.
    expect(() => bayesianConv2d(ok).apply(tfl.input({shape: [5, 5]}))).toThrow(
        /bayesianConv2d: expected the input to have rank 4 .*Received: input shape=\[null, 5, 5\]/);
    expect(() => bayesianConv2d(ok).apply(tf.ones([5, 5, 2]))).toThrow(/rank 4.*Received: input shape=\[5, 5, 2\]/);
    expect(() => bayesianConv2d(ok).apply(tfl.input({batchShape: [null, 5, 5, null]}))).toThrow(
        /channel axis \(3\) to be known. Received: input shape=\[null, 5, 5, null\]/);
    expect(() => bayesianConv2d({...ok, dataFormat: 'channelsFirst'}).apply(tfl.input({batchShape: [null, null, 5, 5]}))).toThrow(
        /channel axis \(1\) to be known/);
    const layer = bayesianConv2d(ok);
    expect(() => layer.setKLWeight(1)).toThrow(/not built/);
    layer.apply(tfl.input({shape: [5, 5, 2]}));
    expect(() => layer.apply(tfl.input({shape: [5, 5, 3]}))).toThrow(/axis 3.*2.*3/);
    expect(() => { layer.inferenceMode = 'MC' as 'sample'; }).toThrow(/bayesianConv2d: expected inferenceMode/);
  });
});

// ------------------------------------------------------------ conformance

/** Seeded inputs [8, 5, 5, 2] and the targets of a fixed "teacher" convolution. */
const convX = () => tf.tensor(uniform(8 * 5 * 5 * 2, 120, -1, 1), [8, 5, 5, 2]);
const convY = () => tf.tidy(() => tf.conv2d(convX() as tf.Tensor4D, tf.tensor(uniform(3 * 3 * 2 * 2, 121, -1, 1), [3, 3, 2, 2]) as tf.Tensor4D, 1, 'valid'));

const PRIORS = ['gaussian', 'scaleMixture'] as const;
const convCases: ConformanceCase[] = ESTIMATORS.flatMap((estimator) => PRIORS.map((prior) => ({
  title: `${estimator}, ${prior} prior`,
  cls: BayesianConv2D as unknown as ConformanceCase['cls'],
  inputShape: [5, 5, 2],
  make: (extra: Record<string, unknown>) => bayesianConv2d({
    filters: 2, kernelSize: 3, estimator, prior, numExamples: 500, bayesianBias: true,
    kernelLocInitializer: tfl.initializers.glorotNormal({seed: 1}),
    kernelUntransformedScaleInitializer: tfl.initializers.randomNormal({mean: -3, stddev: 0.1, seed: 2}),
    biasUntransformedScaleInitializer: tfl.initializers.randomNormal({mean: -3, stddev: 0.1, seed: 3}),
    ...extra,
  } as BayesianConv2DArgs),
  x: convX,
  y: convY,
})));

describeLayerConformance('BayesianConv2D', convCases);

// Last in the file: it adds an estimator to the (process-wide) registry.
describe('the estimator registry', () => {
  beforeAll(async () => useBackend('cpu'));

  it('a registered strategy serves both layers by name, in their configs and their errors', () => {
    // A strategy that draws the kernel noise but returns the posterior mean: registered once, written against any op.
    registerEstimator('meanForTest', {
      sample(op, x, q, source) {
        return {output: meanOutput(op, x, q), kernelEps: source.normal(q.kernelLoc.shape), biasEps: null};
      },
    });
    expect(registeredEstimatorNames()).toEqual([...ESTIMATORS, 'meanForTest']);
    const estimator = 'meanForTest' as Estimator;
    const c = convCase([2, 4, 4, 1], [2, 2, 1, 2], {strides: [1, 1], padding: 'valid', dilations: [1, 1]}, 140);
    const conv = layerFor(c, {estimator});
    const x = tf.tensor(c.x, c.xShape);
    const y = conv.apply(x, {training: true});
    expectClose(y, conv2dMeanRef(c), 1e-5, 1e-5);
    expect(conv.getConfig()['estimator']).toBe('meanForTest');
    expect((BayesianConv2D.fromConfig(BayesianConv2D, conv.getConfig()) as BayesianConv2D).estimator).toBe('meanForTest');
    const dense = tfv.layers.bayesianDense({units: 2, klWeight: 0, estimator});
    const xd = tf.ones([3, 4]);
    const yd = dense.apply(xd, {training: true});
    const mu = weightValues(dense)['kernel_loc'];
    expectClose(yd, [0, 1, 2].flatMap(() => [0, 1].map((j) => mu[j] + mu[2 + j] + mu[4 + j] + mu[6 + j])), 1e-5, 1e-6);
    expect(() => bayesianConv2d({filters: 1, kernelSize: 1, klWeight: 0, estimator: 'nope' as Estimator})).toThrow(
        /estimator to be one of 'reparameterization', 'localReparameterization', 'flipout', 'meanForTest'. Received: estimator='nope'/);
    tf.dispose([x, y, xd, yd, ...conv.calculateLosses(), ...dense.calculateLosses()]);
  });
});

function conv2dMeanRef(c: ConvCase): number[] {
  const f = c.kShape[3];
  return conv64(c.x, c.xShape, c.mu, c.kShape, c.g).y.map((v, k) => v + c.bMu[k % f]);
}
