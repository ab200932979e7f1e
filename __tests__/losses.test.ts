/**
 * Likelihood losses: values against double-precision references, gradients
 * against central finite differences of those references, extreme inputs,
 * multi-sample averaging, errors, leaks, and training with model.fit.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {
  bernoulliNLL,
  bernoulliNLLFromLogits,
  categoricalNLL,
  gaussianNLL,
  LikelihoodLoss,
  PROBABILITY_EPSILON,
} from '../src/losses';
import {gaussianOutput} from '../src/layers';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {mulberry32} from './helpers/random';

// ---------------------------------------------------------------------------
// Double-precision references (independent of the implementation)
// ---------------------------------------------------------------------------

const EPS = PROBABILITY_EPSILON;
const LOG_2PI = Math.log(2 * Math.PI);

function softplus(l: number): number {
  return l > 0 ? l + Math.log1p(Math.exp(-l)) : Math.log1p(Math.exp(l));
}
function clip(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
function logSumExp(v: number[]): number {
  const m = Math.max(...v);
  return m + Math.log(v.reduce((s, a) => s + Math.exp(a - m), 0));
}

/** One example's NLL from its flat target row and flat prediction row. */
type RowNLL = (t: number[], p: number[]) => number;

const refBernoulliLogits: RowNLL = (t, p) => t.reduce((s, x, i) => s + softplus(p[i]) - x * p[i], 0);
/** The clip bounds as the float32 kernels see them (1 − 1e-7 rounds to 1 − 1.19e-7). */
const LO = Math.fround(EPS);
const HI = Math.fround(1 - EPS);
const refBernoulliProbs: RowNLL = (t, p) => t.reduce((s, x, i) => {
  const q = clip(p[i], LO, HI);
  return s - x * Math.log(q) - (1 - x) * Math.log1p(-q);
}, 0);
const refGaussianFixed = (scale: number): RowNLL => (t, p) =>
  t.reduce((s, x, i) => s + 0.5 * ((x - p[i]) / scale) ** 2 + Math.log(scale) + 0.5 * LOG_2PI, 0);
/** `d` = size of yTrue's last axis; p holds, per position, d means then d log-variances. */
const refGaussianLearned = (d: number): RowNLL => (t, p) => t.reduce((s, x, i) => {
  const pos = Math.floor(i / d);
  const j = i % d;
  const mu = p[pos * 2 * d + j];
  const v = p[pos * 2 * d + d + j];
  return s + 0.5 * ((x - mu) ** 2 * Math.exp(-v) + v + LOG_2PI);
}, 0);
const refCategorical = (c: number, fromLogits: boolean): RowNLL => (t, p) => {
  let s = 0;
  for (let pos = 0; pos < t.length / c; pos++) {
    const y = t.slice(pos * c, pos * c + c);
    const q = p.slice(pos * c, pos * c + c);
    const logp = fromLogits ? q.map((l) => l - logSumExp(q)) : q.map((v) => Math.log(clip(v, LO, 1)));
    s -= y.reduce((a, yc, i) => a + yc * logp[i], 0);
  }
  return s;
};

/** Per-example reference: rows of yPred are example-major, the k samples are averaged. */
function refLoss(row: RowNLL, yTrue: number[], yPred: number[], batch: number, k: number): number[] {
  const nt = yTrue.length / batch;
  const np = yPred.length / (batch * k);
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const t = yTrue.slice(b * nt, (b + 1) * nt);
    let s = 0;
    for (let j = 0; j < k; j++) {
      const r = b * k + j;
      s += row(t, yPred.slice(r * np, (r + 1) * np));
    }
    out.push(s / k);
  }
  return out;
}

/** Central finite differences of Σ_b w_b·loss_b with respect to every element of yPred. */
function refGrad(row: RowNLL, yTrue: number[], yPred: number[], batch: number, k: number, w: number[]): number[] {
  const f = (p: number[]): number => refLoss(row, yTrue, p, batch, k).reduce((s, v, b) => s + w[b] * v, 0);
  return yPred.map((v, i) => {
    const h = 1e-6 * Math.max(1, Math.abs(v));
    const plus = yPred.slice();
    const minus = yPred.slice();
    plus[i] = v + h;
    minus[i] = v - h;
    return (f(plus) - f(minus)) / (2 * h);
  });
}

// ---------------------------------------------------------------------------
// Small deterministic data
// ---------------------------------------------------------------------------

const rng = mulberry32;
function uniform(n: number, lo: number, hi: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({length: n}, () => lo + (hi - lo) * r());
}
/** Rounds to float32 so that references see exactly the values the tensors hold. */
function f32(v: number[]): number[] {
  return Array.from(new Float32Array(v));
}
function oneHot(n: number, c: number, seed: number): number[] {
  const r = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const hot = Math.floor(r() * c);
    for (let j = 0; j < c; j++) out.push(j === hot ? 1 : 0);
  }
  return out;
}
function product(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

interface Case {
  label: string;
  make: () => LikelihoodLoss;
  row: (trueShape: number[]) => RowNLL;
  /** Targets and predictions for a yTrue shape and yPred shape. */
  data: (trueShape: number[], predShape: number[], seed: number) => {t: number[]; p: number[]};
  /** yPred's last axis relative to yTrue's. */
  factor: number;
}

const CASES: Case[] = [
  {
    label: 'bernoulliNLL logits',
    make: () => bernoulliNLL({fromLogits: true}),
    row: () => refBernoulliLogits,
    data: (ts, ps, s) => ({t: f32(uniform(product(ts), 0, 1, s)), p: f32(uniform(product(ps), -4, 4, s + 1))}),
    factor: 1,
  },
  {
    label: 'bernoulliNLL probabilities',
    make: () => bernoulliNLL({fromLogits: false}),
    row: () => refBernoulliProbs,
    data: (ts, ps, s) => ({t: f32(uniform(product(ts), 0, 1, s)), p: f32(uniform(product(ps), 0.05, 0.95, s + 1))}),
    factor: 1,
  },
  {
    label: 'gaussianNLL default scale',
    make: () => gaussianNLL(),
    row: () => refGaussianFixed(1),
    data: (ts, ps, s) => ({t: f32(uniform(product(ts), -2, 2, s)), p: f32(uniform(product(ps), -2, 2, s + 1))}),
    factor: 1,
  },
  {
    label: 'gaussianNLL scale 0.3',
    make: () => gaussianNLL({scale: 0.3}),
    row: () => refGaussianFixed(0.3),
    data: (ts, ps, s) => ({t: f32(uniform(product(ts), -2, 2, s)), p: f32(uniform(product(ps), -2, 2, s + 1))}),
    factor: 1,
  },
  {
    label: 'gaussianNLL learnedVariance',
    make: () => gaussianNLL({learnedVariance: true}),
    row: (ts) => refGaussianLearned(ts[ts.length - 1]),
    data: (ts, ps, s) => ({t: f32(uniform(product(ts), -2, 2, s)), p: f32(uniform(product(ps), -1.5, 1.5, s + 1))}),
    factor: 2,
  },
  {
    label: 'categoricalNLL logits',
    make: () => categoricalNLL({fromLogits: true}),
    row: (ts) => refCategorical(ts[ts.length - 1], true),
    data: (ts, ps, s) => ({
      t: oneHot(product(ts) / ts[ts.length - 1], ts[ts.length - 1], s),
      p: f32(uniform(product(ps), -3, 3, s + 1)),
    }),
    factor: 1,
  },
  {
    label: 'categoricalNLL probabilities',
    make: () => categoricalNLL(),
    row: (ts) => refCategorical(ts[ts.length - 1], false),
    data: (ts, ps, s) => {
      const c = ps[ps.length - 1];
      const raw = uniform(product(ps), 0.1, 1, s + 1);
      const p: number[] = [];
      for (let i = 0; i < raw.length; i += c) {
        const g = raw.slice(i, i + c);
        const z = g.reduce((a, b) => a + b, 0);
        p.push(...g.map((v) => v / z));
      }
      return {t: oneHot(product(ts) / ts[ts.length - 1], ts[ts.length - 1], s), p: f32(p)};
    },
    factor: 1,
  },
];

function predShape(trueShape: number[], k: number, factor: number): number[] {
  const s = trueShape.slice();
  s[0] *= k;
  s[s.length - 1] *= factor;
  return s;
}

function expectAllFinite(t: tf.Tensor, what: string): void {
  const v = t.dataSync();
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) {
      throw new Error(`${what}: element ${i} is ${v[i]}`);
    }
  }
}

/** Loss values and gradient of Σ_b w_b·loss_b with respect to yPred. */
function lossAndGrad(loss: LikelihoodLoss, yTrue: tf.Tensor, yPred: tf.Tensor, w?: number[]): [tf.Tensor, tf.Tensor] {
  const weights = tf.tensor1d(w ?? new Array(yTrue.shape[0]).fill(1));
  const value = loss(yTrue, yPred);
  const grad = tf.grad((p: tf.Tensor) => tf.sum(tf.mul(weights, loss(yTrue, p))))(yPred);
  weights.dispose();
  return [value, grad];
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe.each(NODE_BACKENDS)('likelihood losses on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  describe.each(CASES)('$label', (c) => {
    const shapes: Array<[string, number[]]> = [['[3, 5]', [3, 5]], ['[2, 4, 3]', [2, 4, 3]]];

    test.each(shapes)('values and gradients match double precision, yTrue %s', (_, ts) => {
      const ps = predShape(ts, 1, c.factor);
      const {t, p} = c.data(ts, ps, 11);
      const w = f32(uniform(ts[0], 0.5, 2, 5));
      const [value, grad] = tf.tidy(() => lossAndGrad(c.make(), tf.tensor(t, ts), tf.tensor(p, ps), w));
      expect(value.shape).toEqual([ts[0]]);
      expect(grad.shape).toEqual(ps);
      expectClose(value, refLoss(c.row(ts), t, p, ts[0], 1), 1e-5, 1e-5);
      expectClose(grad, refGrad(c.row(ts), t, p, ts[0], 1, w), 2e-3, 2e-4);
      tf.dispose([value, grad]);
    });

    test('k samples per example (example-major rows) are averaged, with matching gradients', () => {
      const ts = [2, 4, 3];
      const k = 3;
      const ps = predShape(ts, k, c.factor);
      const {t, p} = c.data(ts, ps, 23);
      const w = [1, 1.5];
      const loss = c.make();
      tf.tidy(() => {
        const yTrue = tf.tensor(t, ts);
        const yPred = tf.tensor(p, ps);
        const [value, grad] = lossAndGrad(loss, yTrue, yPred, w);
        expect(value.shape).toEqual([2]);
        expectClose(value, refLoss(c.row(ts), t, p, 2, k), 1e-5, 1e-5);
        expectClose(grad, refGrad(c.row(ts), t, p, 2, k, w), 2e-3, 2e-4);
        // perSample keeps the samples apart; row b·k + s is sample s of example b.
        const perSample = loss.perSample(yTrue, yPred);
        expect(perSample.shape).toEqual([2, k]);
        const repeated = tf.gather(yTrue, [0, 0, 0, 1, 1, 1]);
        expectClose(tf.reshape(perSample, [2 * k]), loss(repeated, yPred), 1e-6, 1e-6);
        expectClose(tf.mean(perSample, 1), value, 1e-6, 1e-6);
      });
    });

    test('no tensor leaks over 50 calls, inside and outside tidy', () => {
      const ts = [2, 4, 3];
      const ps = predShape(ts, 2, c.factor);
      const {t, p} = c.data(ts, ps, 3);
      const loss = c.make();
      const yTrue = tf.tensor(t, ts);
      const yPred = tf.tensor(p, ps);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 50; i++) {
        loss(yTrue, yPred).dispose();
        loss.perSample(yTrue, yPred).dispose();
        tf.tidy(() => {
          loss(yTrue, yPred);
          loss.perSample(yTrue, yPred);
        });
      }
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([yTrue, yPred]);
    });

    test('a tiny dense model compiled with it trains with model.fit', async () => {
      const n = 64;
      const inDim = 6;
      const d = 4;
      const xs = uniform(n * inDim, -1, 1, 7);
      const proj = uniform(inDim * d, -1, 1, 8);
      const signal: number[] = [];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < d; j++) {
          let s = 0;
          for (let q = 0; q < inDim; q++) s += xs[i * inDim + q] * proj[q * d + j];
          signal.push(s);
        }
      }
      let targets: number[];
      let activation: 'linear'|'sigmoid'|'softmax' = 'linear';
      if (c.label.startsWith('bernoulli')) {
        targets = signal.map((s) => (s > 0 ? 1 : 0));
        if (c.label.includes('probabilities')) activation = 'sigmoid';
      } else if (c.label.startsWith('categorical')) {
        targets = [];
        for (let i = 0; i < n; i++) {
          const row = signal.slice(i * d, i * d + d);
          const hot = row.indexOf(Math.max(...row));
          targets.push(...row.map((_, j) => (j === hot ? 1 : 0)));
        }
        if (c.label.includes('probabilities')) activation = 'softmax';
      } else {
        targets = signal;
      }
      const model = tfl.sequential({
        layers: [tfl.layers.dense({
          inputShape: [inDim],
          units: d * c.factor,
          activation,
          kernelInitializer: tfl.initializers.glorotUniform({seed: 1}),
        })],
      });
      if (c.factor === 2) {
        // fit checks targets against the output shape: gaussianOutput declares its last axis unknown.
        model.add(gaussianOutput());
      }
      model.compile({optimizer: tf.train.adam(0.05), loss: c.make()});
      const x = tf.tensor2d(xs, [n, inDim]);
      const y = tf.tensor2d(targets, [n, d]);
      const history = await model.fit(x, y, {epochs: 8, batchSize: 16, shuffle: false, verbose: 0});
      const losses = history.history.loss as number[];
      losses.forEach((v) => expect(Number.isFinite(v)).toBe(true));
      expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
      // evaluate's loss is the batch mean of our per-example values.
      const evaluated = model.evaluate(x, y, {batchSize: n}) as tf.Scalar;
      const direct = tf.tidy(() => tf.mean(c.make()(y, model.predict(x) as tf.Tensor)));
      expectClose(evaluated, direct.dataSync()[0], 1e-5, 1e-5);
      tf.dispose([x, y, evaluated, direct]);
      model.dispose();
    });
  });

  describe('extreme inputs give finite losses and gradients', () => {
    function check(loss: LikelihoodLoss, t: number[][], p: number[][], expected?: number[]): tf.Tensor {
      const [value, grad] = tf.tidy(() => lossAndGrad(loss, tf.tensor2d(t), tf.tensor2d(p)));
      expectAllFinite(value, 'loss');
      expectAllFinite(grad, 'gradient');
      if (expected) expectClose(value, expected, 1e-5, 1e-5);
      value.dispose();
      return grad;
    }

    test('bernoulliNLL logits ±1e4, ±80, and 0 (gradient σ(l) − x, also at l = 0)', () => {
      const logits = [1e4, -1e4, 80, -80, 0, 0, 0];
      const cases: number[][] = [[0, 0, 0, 0, 0, 1, 0.5], [1, 1, 1, 1, 1, 0, 0.25], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]];
      for (const x of cases) {
        const grad = check(
            bernoulliNLL({fromLogits: true}), [x], [logits], [refBernoulliLogits(x, logits)]);
        const sigmoid = logits.map((l) => 1 / (1 + Math.exp(-l)));
        expectClose(grad, sigmoid.map((s, i) => s - x[i]), 1e-6, 1e-6);
        grad.dispose();
      }
      // The per-element function directly: softplus(±1e4) neither overflows nor underflows to NaN.
      tf.tidy(() => expectClose(
          bernoulliNLLFromLogits(tf.tensor1d([0, 1]), tf.tensor1d([1e4, -1e4])), [1e4, 1e4], 1e-7, 0));
    });

    test('bernoulliNLL probabilities exactly 0 and 1', () => {
      const x = [[0, 0, 1, 1, 0.3, 0.3]];
      const p = [[0, 1, 0, 1, 0, 1]];
      // Each element's loss is at most −log(eps) ≈ 16.1; clipped elements pass no gradient.
      const grad = check(bernoulliNLL(), x, p, [refBernoulliProbs(x[0], p[0])]);
      expectClose(grad, [0, 0, 0, 0, 0, 0], 0, 0);
      grad.dispose();
      check(bernoulliNLL(), [[0, 1]], [[EPS, 1 - EPS]]).dispose();
    });

    test('gaussianNLL learnedVariance with logVar ±80 and mean 1e4', () => {
      const t = [[1, 1, 0, 0, 0]];
      const p = [[0, 0, 1e4, 1e4, 0, /* log-variances */ 80, -80, 0, 80, -89]];
      // mean, logVar:  (0, 80) (0, −80) (1e4, 0) (1e4, 80) (0, −89) with x − μ ∈ {1, 1, −1e4, −1e4, 0}
      check(gaussianNLL({learnedVariance: true}), t, p, [refGaussianLearned(5)(t[0], p[0])]).dispose();
      // A small residual under logVar = −100: e^{100} alone overflows float32, the loss (≈ 2.7e31) does not.
      const t2 = [[1e-6]];
      const p2 = [[0, -100]];
      check(gaussianNLL({learnedVariance: true}), t2, p2, [refGaussianLearned(1)(t2[0], p2[0])]).dispose();
    });

    test('gaussianNLL fixed scale with mean 1e4', () => {
      const t = [[0, 1e4, -1e4]];
      const p = [[1e4, -1e4, 1e4]];
      check(gaussianNLL(), t, p, [refGaussianFixed(1)(t[0], p[0])]).dispose();
      check(gaussianNLL({scale: 1e-3}), t, p, [refGaussianFixed(1e-3)(t[0], p[0])]).dispose();
    });

    test('categoricalNLL logits ±1e4 and ±80', () => {
      const p = [[1e4, -1e4, 0], [80, -80, 0], [-1e4, -1e4, -1e4]];
      for (const hot of [0, 1, 2]) {
        const t = p.map(() => [0, 1, 2].map((j) => (j === hot ? 1 : 0)));
        const ref = t.map((row, b) => refCategorical(3, true)(row, p[b]));
        // Per-example check with a [3, 3] batch: each row is one example.
        const grad = check(categoricalNLL({fromLogits: true}), t, p, ref);
        expectClose(grad, p.flatMap((row, b) => {
          const lse = logSumExp(row);
          return row.map((l, j) => Math.exp(l - lse) - t[b][j]);
        }), 1e-6, 1e-6);
        grad.dispose();
      }
    });

    test('categoricalNLL probabilities exactly 0 and 1', () => {
      const p = [[1, 0, 0], [1, 0, 0], [0, 0.5, 0.5]];
      const t = [[1, 0, 0], [0, 1, 0], [1, 0, 0]];
      check(categoricalNLL(), t, p, [0, -Math.log(LO), -Math.log(LO)]).dispose();
    });
  });

  test('yTrue given as int32 is accepted', () => {
    tf.tidy(() => {
      const y = tf.tensor2d([[0, 1, 0]], [1, 3], 'int32');
      const l = tf.tensor2d([[1, 2, 3]]);
      expectClose(categoricalNLL({fromLogits: true})(y, l), [refCategorical(3, true)([0, 1, 0], [1, 2, 3])], 1e-6, 1e-6);
      expectClose(bernoulliNLL({fromLogits: true})(y, l), [refBernoulliLogits([0, 1, 0], [1, 2, 3])], 1e-6, 1e-6);
    });
  });
});

describe('loss functions: names, options and shape errors', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('each loss has a readable name and no enumerable keys (tfjs-layers training config)', () => {
    expect(bernoulliNLL({fromLogits: true}).name).toBe('bernoulliNLL');
    expect(bernoulliNLL().name).toBe('bernoulliNLL');
    expect(gaussianNLL().name).toBe('gaussianNLL');
    expect(gaussianNLL({learnedVariance: true}).name).toBe('gaussianNLL');
    expect(categoricalNLL().name).toBe('categoricalNLL');
    expect(Object.keys(bernoulliNLL())).toEqual([]);
    expect(typeof bernoulliNLL().perSample).toBe('function');
  });

  test('option errors name the option and the value received', () => {
    expect(() => bernoulliNLL({fromLogits: 'yes' as unknown as boolean})).toThrow(/fromLogits.*boolean.*fromLogits="yes"/);
    expect(() => categoricalNLL({fromLogits: 1 as unknown as boolean})).toThrow(/fromLogits=1/);
    expect(() => gaussianNLL({scale: -1})).toThrow(/scale=-1/);
    expect(() => gaussianNLL({scale: 0})).toThrow(/scale=0/);
    expect(() => gaussianNLL({scale: NaN})).toThrow(/scale=NaN/);
    expect(() => gaussianNLL({scale: '2' as unknown as number})).toThrow(/scale=2/);
    expect(() => gaussianNLL({learnedVariance: 'true' as unknown as boolean})).toThrow(/learnedVariance/);
    expect(() => gaussianNLL({learnedVariance: true, scale: 2})).toThrow(/scale.*learnedVariance.*scale=2/);
    expect(() => bernoulliNLL({fromLogit: true} as unknown as {fromLogits: boolean})).toThrow(/unknown option.*fromLogit/);
    expect(() => bernoulliNLL(true as unknown as {fromLogits: boolean})).toThrow(/options object/);
    expect(() => gaussianNLL({scale: 2, learnedVariance: false})).not.toThrow();
  });

  test('shape errors name the argument and both shapes', () => {
    const check = (loss: LikelihoodLoss, ts: number[], ps: number[], pattern: RegExp): void => {
      tf.tidy(() => {
        const call = (): unknown => loss(tf.zeros(ts), tf.zeros(ps));
        expect(call).toThrow(pattern);
        expect(call).toThrow(`yTrue shape [${ts.join(',')}], yPred shape [${ps.join(',')}]`);
        expect(() => loss.perSample(tf.zeros(ts), tf.zeros(ps))).toThrow(pattern);
      });
    };
    check(bernoulliNLL(), [2, 3], [2, 4], /bernoulliNLL: expected yPred to have the same event/);
    check(bernoulliNLL(), [2, 4, 3], [2, 3, 4], /yPred.*event shape \[4,3\]/);
    check(gaussianNLL(), [2, 3], [2, 3, 1], /gaussianNLL: expected yPred to have the same rank/);
    check(gaussianNLL(), [2, 3], [3, 3], /yPred's batch size/);
    check(gaussianNLL(), [4, 3], [6, 3], /yPred's batch size/);
    check(gaussianNLL({learnedVariance: true}), [2, 3], [2, 3], /yPred to have a last axis 2×.*\[6\]/);
    check(gaussianNLL({learnedVariance: true}), [2, 3], [2, 5], /yPred.*2×/);
    check(gaussianNLL({learnedVariance: true}), [2], [2], /yTrue to have rank >= 2/);
    check(categoricalNLL(), [4], [4], /categoricalNLL: expected yTrue to have rank >= 2/);
    check(categoricalNLL(), [2, 3], [2, 4], /yPred/);
    expect(() => bernoulliNLL()([1, 0] as unknown as tf.Tensor, tf.zeros([2]))).toThrow(/yTrue to be a tf.Tensor/);
  });

  test('the values in the doc examples', () => {
    tf.tidy(() => {
      expectClose(bernoulliNLL({fromLogits: true})(tf.tensor2d([[1, 0]]), tf.tensor2d([[2, -1]])), [0.4402], 0, 1e-4);
      expectClose(gaussianNLL({learnedVariance: true})(tf.tensor2d([[1]]), tf.tensor2d([[0, 0]])), [1.4189], 0, 1e-4);
      expectClose(categoricalNLL({fromLogits: true})(tf.tensor2d([[0, 1]]), tf.tensor2d([[0, 0]])), [0.6931], 0, 1e-4);
    });
  });

  test('rank-1 targets ([batch], scalar events) work', () => {
    tf.tidy(() => {
      const v = gaussianNLL()(tf.tensor1d([1, 2]), tf.tensor1d([0, 0]));
      expectClose(v, [0.5 + 0.5 * LOG_2PI, 2 + 0.5 * LOG_2PI], 1e-6, 1e-6);
    });
  });
});

// ---------------------------------------------------------------------------
// Regressions: the learned-variance NaN, and target checking
// ---------------------------------------------------------------------------

describe.each(NODE_BACKENDS)('regressions on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('gaussianNLL learnedVariance at x = mean with logVar −180 is −89.08 with finite gradients (was NaN: 0·∞)', () => {
    tf.tidy(() => {
      const loss = gaussianNLL({learnedVariance: true});
      const yTrue = tf.tensor2d([[0]]);
      const yPred = tf.tensor2d([[0, -180]]);
      const expected = 0.5 * (-180 + LOG_2PI);  // −89.0811
      expectClose(loss(yTrue, yPred), [expected], 1e-6, 0);
      expect(expected).toBeCloseTo(-89.08, 2);
      // ∂/∂μ = −(x − μ)e^{−v} = 0, ∂/∂v = ½ − ½(x − μ)²e^{−v} = ½; ∂/∂x = 0.
      const [gTrue, gPred] = tf.grads((t: tf.Tensor, p: tf.Tensor) => tf.sum(loss(t, p)))([yTrue, yPred]);
      expectClose(gPred, [0, 0.5], 0, 1e-7);
      expectClose(gTrue, [0], 0, 0);
      // Further corners: logVar −1e3 and 1e3 at x = mean, and a loss beyond float32 is +∞ (not NaN).
      const value = loss(tf.tensor2d([[0], [0], [1e4]]), tf.tensor2d([[0, -1e3], [0, 1e3], [0, -80]])).dataSync();
      expectClose(Array.from(value.slice(0, 2)), [0.5 * (-1e3 + LOG_2PI), 0.5 * (1e3 + LOG_2PI)], 1e-6, 0);
      expect(value[2]).toBe(Infinity);
    });
  });

  test('a tiny model with a learned-variance head trains finitely when its log-variance starts at −180', async () => {
    // The bias starts the log-variance at −180 and the targets equal the mean head's output (0): the
    // loss is ½(v + log 2π) there and its gradient ½ pulls v up. Before, the first step was NaN.
    const model = tfl.sequential({
      layers: [tfl.layers.dense({
        inputShape: [2], units: 2, kernelInitializer: 'zeros',
        biasInitializer: tfl.initializers.constant({value: 0}),
      })],
    });
    model.add(gaussianOutput());
    const dense = model.layers[0];
    dense.setWeights([tf.zeros([2, 2]), tf.tensor1d([0, -180])]);
    model.compile({optimizer: tf.train.sgd(1), loss: gaussianNLL({learnedVariance: true})});
    const x = tf.ones([4, 2]);
    const y = tf.zeros([4, 1]);
    const history = await model.fit(x, y, {epochs: 3, batchSize: 4, verbose: 0});
    const losses = history.history.loss as number[];
    expect(losses[0]).toBeCloseTo(0.5 * (-180 + LOG_2PI), 3);
    losses.forEach((v) => expect(Number.isFinite(v)).toBe(true));
    dense.getWeights().forEach((w) => w.dataSync().forEach((v) => expect(Number.isFinite(v)).toBe(true)));
    tf.dispose([x, y]);
    model.dispose();
  });

  const pixels = (values: number[]): tf.Tensor => tf.tensor2d(values, [2, values.length / 2]);

  test('bernoulliNLL({checkTargets: true}) on raw 0–255 pixels throws, naming the loss and both ranges', () => {
    tf.tidy(() => {
      const raw = pixels([0, 255, 128, 3]);
      const logits = tf.zeros([2, 2]);
      for (const loss of [bernoulliNLL({fromLogits: true, checkTargets: true}), bernoulliNLL({checkTargets: true})]) {
        const message = 'bernoulliNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 255]';
        expect(() => loss(raw, logits)).toThrow(message);
        expect(() => loss.perSample(raw, logits)).toThrow(message);
      }
    });
  });

  test('checkTargets reports NaN targets (with a count) and ±∞, per loss', () => {
    tf.tidy(() => {
      const nan = pixels([0, NaN, 0.5, NaN]);
      expect(() => bernoulliNLL({fromLogits: true, checkTargets: true})(nan, tf.zeros([2, 2])))
          .toThrow('bernoulliNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 0.5], and 2 NaN values');
      expect(() => bernoulliNLL({checkTargets: true})(pixels([NaN, NaN]), tf.zeros([2, 1])))
          .toThrow('Received: targets all NaN (2 NaN values)');
      expect(() => gaussianNLL({checkTargets: true})(pixels([-0.5, NaN, 1, 2]), tf.zeros([2, 2])))
          .toThrow('gaussianNLL: expected yTrue (targets) to be finite. Received: targets in [-0.5, 2], and 1 NaN value');
      expect(() => gaussianNLL({learnedVariance: true, checkTargets: true})(pixels([-Infinity, 3]), tf.zeros([2, 2])))
          .toThrow('gaussianNLL: expected yTrue (targets) to be finite. Received: targets in [-Infinity, 3]');
      // +∞ and −∞ together sum to NaN: the message still names them, with no NaN count.
      expect(() => gaussianNLL({checkTargets: true})(pixels([Infinity, -Infinity]), tf.zeros([2, 1])))
          .toThrow(/Received: targets in \[-Infinity, Infinity\]$/);
      expect(() => categoricalNLL({fromLogits: true, checkTargets: true})(tf.tensor2d([[0, 9, 0]]), tf.zeros([1, 3])))
          .toThrow('categoricalNLL: expected yTrue (targets) in [0, 1]. Received: targets in [0, 9]');
      expect(() => categoricalNLL({checkTargets: true})(tf.tensor2d([[-0.25, 1.25]]), tf.fill([1, 2], 0.5)))
          .toThrow('categoricalNLL: expected yTrue (targets) in [0, 1]. Received: targets in [-0.25, 1.25]');
      // int32 targets are checked too.
      expect(() => bernoulliNLL({fromLogits: true, checkTargets: true})(tf.tensor2d([[0, 255]], [1, 2], 'int32'), tf.zeros([1, 2])))
          .toThrow('Received: targets in [0, 255]');
    });
  });

  test('checkTargets off (the default): raw 0–255 targets give exactly the unchecked values, as before', () => {
    tf.tidy(() => {
      const raw = pixels([0, 255, 128, 3]);
      const logits = tf.tensor2d([[0.5, -1], [2, 0]]);
      const expected = refLoss(refBernoulliLogits, [0, 255, 128, 3], [0.5, -1, 2, 0], 2, 1);
      for (const loss of [bernoulliNLL({fromLogits: true}), bernoulliNLL({fromLogits: true, checkTargets: false})]) {
        expectClose(loss(raw, logits), expected, 1e-5, 1e-4);
      }
      // In-range targets: the checked loss equals the unchecked one exactly.
      const t = pixels([0, 1, 0.25, 0.5]);
      const a = bernoulliNLL({fromLogits: true, checkTargets: true})(t, logits).dataSync();
      const b = bernoulliNLL({fromLogits: true})(t, logits).dataSync();
      expect(Array.from(a)).toEqual(Array.from(b));
      const g = gaussianNLL({checkTargets: true})(pixels([-3e38, 1, 2, 3e38]), tf.zeros([2, 2]));
      expect(g.shape).toEqual([2]);
    });
  });

  test('model.fit with checkTargets on stops at the first batch of raw pixels, with the clear error', async () => {
    const model = tfl.sequential({layers: [tfl.layers.dense({inputShape: [4], units: 4})]});
    model.compile({optimizer: 'sgd', loss: bernoulliNLL({fromLogits: true, checkTargets: true})});
    const x = tf.ones([8, 4]);
    const y = tf.fill([8, 4], 255);
    await expect(model.fit(x, y, {epochs: 1, batchSize: 4, verbose: 0}))
        .rejects.toThrow('bernoulliNLL: expected yTrue (targets) in [0, 1]. Received: targets in [255, 255]');
    // The same data scaled to [0, 1] trains.
    const scaled = tf.div(y, 255);
    const history = await model.fit(x, scaled, {epochs: 1, batchSize: 4, verbose: 0});
    expect(Number.isFinite(history.history.loss[0] as number)).toBe(true);
    tf.dispose([x, y, scaled]);
    model.dispose();
  });

  test('checkTargets leaks no tensors, passing or throwing', () => {
    const ok = pixels([0, 1, 0.5, 0.25]);
    const bad = pixels([0, NaN, 2, 0.25]);
    const logits = tf.zeros([2, 2]);
    const loss = bernoulliNLL({fromLogits: true, checkTargets: true});
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) {
      loss(ok, logits).dispose();
      expect(() => loss(bad, logits)).toThrow(/NaN/);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ok, bad, logits]);
  });
});

describe('checkTargets option errors', () => {
  test('checkTargets must be a boolean; unknown options are still rejected with the list of known ones', () => {
    expect(() => bernoulliNLL({checkTargets: 'yes' as unknown as boolean})).toThrow(/checkTargets.*boolean.*checkTargets="yes"/);
    expect(() => gaussianNLL({checkTargets: 1 as unknown as boolean})).toThrow(/checkTargets=1/);
    expect(() => categoricalNLL({checkTargets: null as unknown as boolean})).toThrow(/checkTargets=null/);
    expect(() => bernoulliNLL({checkTarget: true} as unknown as {checkTargets: boolean}))
        .toThrow('bernoulliNLL: unknown option(s) checkTarget. Known options: fromLogits, checkTargets');
    expect(() => gaussianNLL({checktargets: true} as unknown as {checkTargets: boolean}))
        .toThrow('gaussianNLL: unknown option(s) checktargets. Known options: scale, learnedVariance, checkTargets');
    expect(() => categoricalNLL({fromLogit: true} as unknown as {checkTargets: boolean}))
        .toThrow('categoricalNLL: unknown option(s) fromLogit. Known options: fromLogits, checkTargets');
  });
});
