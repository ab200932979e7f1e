/**
 * Normalizing flows: one conformance harness (as normflows' FlowTest and
 * distrax's bijector tests) run over every flow layer and parameter mode —
 * shapes and dtype, the analytic log-det against log|det J| of the autodiff
 * Jacobian, inverse(forward(z)) ≈ z with cancelling log-dets, finite
 * gradients, config and model round trips, a model.fit through the log-det,
 * leaks and argument errors — then each flow's own cases (float64
 * references, the planar constraint, radial at its bound and at r = 0, the
 * triangular IAF Jacobian) and the chain.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import * as tfv from '../src';
import type {Bijector} from '../src/flows';
import {FlowLayer, InverseAutoregressiveFlow} from '../src/flows';
import {madeMasks} from '../src/flows/made';
import {expectClose, NODE_BACKENDS, useBackend} from './helpers/backends';
import {roundTripInMemory} from './helpers/io';
import {normal, useSeededMathRandom} from './helpers/random';

// Every value in this file is seeded: inputs and parameters come from the
// seeded generators of helpers/random.ts, and Math.random (the seed of tfjs's
// unseeded initializers and of model.fit's shuffling) is reseeded before each
// test, so outcomes are fixed on a given backend. No assertion is statistical.
useSeededMathRandom(0xf10e);

// ------------------------------------------------------------ float64 helpers

/** log|det A| and the sign of det A for a square matrix, by LU with partial pivoting in float64. */
function logAbsDet(matrix: number[][]): {logAbs: number, sign: number} {
  const a = matrix.map((row) => [...row]);
  const n = a.length;
  let logAbs = 0;
  let sign = 1;
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(a[i][k]) > Math.abs(a[p][k])) p = i;
    if (a[p][k] === 0) return {logAbs: -Infinity, sign: 0};
    if (p !== k) { [a[p], a[k]] = [a[k], a[p]]; sign = -sign; }
    if (a[k][k] < 0) sign = -sign;
    logAbs += Math.log(Math.abs(a[k][k]));
    for (let i = k + 1; i < n; i++) {
      const f = a[i][k] / a[k][k];
      for (let j = k; j < n; j++) a[i][j] -= f * a[k][j];
    }
  }
  return {logAbs, sign};
}

/** The Jacobians ∂f(z)_b/∂z_b of a row-wise map, `[batch][i][j]`, by autodiff (one gradient per output coordinate). */
function jacobians(f: (z: tf.Tensor) => tf.Tensor, z: tf.Tensor): number[][][] {
  const [batch, d] = z.shape;
  const out = Array.from({length: batch}, () => Array.from({length: d}, () => new Array<number>(d).fill(0)));
  for (let i = 0; i < d; i++) {
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.slice(f(x), [0, i], [-1, 1])))(z);
    const rows = g.arraySync() as number[][];
    g.dispose();
    rows.forEach((row, b) => { out[b][i] = row; });
  }
  return out;
}

function seededMatrix(rows: number, cols: number, seed: number, scale = 1): tf.Tensor2D {
  return tf.tensor2d(normal(rows * cols, seed).map((v) => v * scale), [rows, cols]);
}

const sp = (x: number) => (x > 30 ? x : Math.log1p(Math.exp(x)));
const dot = (a: number[], b: number[]) => a.reduce((s, ai, i) => s + ai * b[i], 0);

/** The planar map and its log-det in float64, straight from Rezende & Mohamed's formulas. */
function planar64(u: number[], w: number[], b: number, z: number[]): {y: number[], logDet: number} {
  const wu = dot(w, u);
  const w2 = dot(w, w);
  const uHat = w2 > 0 ? u.map((ui, i) => ui + (-1 + sp(wu) - wu) * w[i] / w2) : u;
  const a = dot(w, z) + b;
  const th = Math.tanh(a);
  return {y: z.map((zi, i) => zi + uHat[i] * th), logDet: Math.log(Math.abs(1 + (1 - th * th) * dot(uHat, w)))};
}

/** The radial map and its log-det in float64. */
function radial64(z0: number[], alphaRaw: number, betaRaw: number, z: number[]): {y: number[], logDet: number} {
  const alpha = sp(alphaRaw);
  const beta = -alpha + sp(betaRaw);
  const r = Math.sqrt(z.reduce((s, zi, i) => s + (zi - z0[i]) ** 2, 0));
  const h = 1 / (alpha + r);
  const dh = -h * h;
  const d = z.length;
  return {
    y: z.map((zi, i) => zi + beta * h * (zi - z0[i])),
    logDet: (d - 1) * Math.log(1 + beta * h) + Math.log(1 + beta * h + beta * dh * r),
  };
}

// ------------------------------------------------------------ the cases

interface FlowCase {
  name: string;
  d: number;
  /** A built layer with its parameters set (seeded). */
  make: () => FlowLayer;
  /** Per-example params for a batch, or undefined. */
  params?: (batch: number, seed: number) => tf.Tensor;
  /** Layer options the factory was given, to rebuild by className. */
  className: string;
}

function built<T extends FlowLayer>(layer: T, d: number, paramSize = 0): T {
  layer.build(paramSize > 0 ? [[null, d], [null, paramSize]] : [null, d]);
  return layer;
}

/** Sets every weight of a layer to seeded N(0, scale²) values. */
function randomizeWeights(layer: tfl.layers.Layer, seed: number, scale: number): void {
  layer.setWeights(layer.getWeights().map((w, i) => tf.tensor(normal(w.size, seed + i).map((v) => v * scale), w.shape)));
}

const CASES: FlowCase[] = [
  {
    name: 'planar (global, wᵀu < −1 before the constraint)', d: 3, className: 'PlanarFlow',
    make: () => {
      const layer = built(tfv.flows.planarFlow(), 3);
      // wᵀu = −6 + 1 − 1 = −6.
      layer.setWeights([tf.tensor1d([-4, 2, 1]), tf.tensor1d([1.5, 0.5, -1]), tf.scalar(0.3)]);
      return layer;
    },
  },
  {
    name: 'planar (amortized, parameters N(0, 3²))', d: 3, className: 'PlanarFlow',
    make: () => built(tfv.flows.planarFlow({amortized: true}), 3, 7),
    params: (batch, seed) => seededMatrix(batch, 7, seed, 3),
  },
  {
    name: 'radial (global)', d: 3, className: 'RadialFlow',
    make: () => {
      const layer = built(tfv.flows.radialFlow(), 3);
      layer.setWeights([tf.tensor1d([0.5, -0.3, 0.2]), tf.scalar(-0.5), tf.scalar(1.2)]);
      return layer;
    },
  },
  {
    name: 'radial (global, contracting: β near −α)', d: 2, className: 'RadialFlow',
    make: () => {
      const layer = built(tfv.flows.radialFlow(), 2);
      layer.setWeights([tf.tensor1d([0.1, 0.2]), tf.scalar(1), tf.scalar(-4)]);
      return layer;
    },
  },
  {
    name: 'radial (amortized, parameters N(0, 2²))', d: 4, className: 'RadialFlow',
    make: () => built(tfv.flows.radialFlow({amortized: true}), 4, 6),
    params: (batch, seed) => seededMatrix(batch, 6, seed, 2),
  },
  {
    name: 'IAF (d = 4, one hidden layer)', d: 4, className: 'InverseAutoregressiveFlow',
    make: () => {
      const layer = built(tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 8}), 4);
      randomizeWeights(layer, 101, 0.5);
      return layer;
    },
  },
  {
    name: 'IAF (reversed order, two hidden layers, tanh)', d: 3, className: 'InverseAutoregressiveFlow',
    make: () => {
      const layer = built(tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 6, numLayers: 2, reverse: true, activation: 'tanh'}), 3);
      randomizeWeights(layer, 202, 0.5);
      return layer;
    },
  },
  {
    name: 'IAF (explicit order, context h of size 2)', d: 4, className: 'InverseAutoregressiveFlow',
    make: () => {
      const layer = built(tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 7, order: [2, 0, 3, 1], contextSize: 2, activation: 'relu'}), 4, 2);
      randomizeWeights(layer, 303, 0.5);
      return layer;
    },
    params: (batch, seed) => seededMatrix(batch, 2, seed),
  },
];

/** Inputs z `[batch, d]`: seeded N(0, 1.5²) rows. */
function inputs(c: FlowCase, batch: number, seed: number): tf.Tensor2D {
  return seededMatrix(batch, c.d, seed, 1.5);
}

/** A test-only flow layer whose output is `[f(z), logDet]` side by side, for a model.fit objective through the log-det. */
function withLogDetOutput(layer: FlowLayer): tfl.layers.Layer {
  class WithLogDet extends tfl.layers.Layer {
    override build(shape: tfl.Shape|tfl.Shape[]): void {
      if (!layer.built) layer.build(shape);
      this.built = true;
    }
    override get trainableWeights(): tfl.LayerVariable[] {
      return layer.trainableWeights;
    }
    override computeOutputShape(shape: tfl.Shape|tfl.Shape[]): tfl.Shape {
      const z = layer.computeOutputShape(shape) as tfl.Shape;
      return [z[0], (z[1] as number) + 1];
    }
    override call(x: tf.Tensor|tf.Tensor[]): tf.Tensor {
      return tf.tidy(() => {
        const list = Array.isArray(x) ? x : [x];
        const [y, logDet] = layer.forwardAndLogDet(list[0], list[1]);
        return tf.concat([y, tf.reshape(logDet, [-1, 1])], 1);
      });
    }
    static className = 'WithLogDet';
  }
  return new WithLogDet({});
}

describe.each(NODE_BACKENDS)('flows on %s', (backend) => {
  beforeAll(async () => useBackend(backend));

  describe.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    it('keeps shape and dtype; apply returns forwardAndLogDet\'s z; symbolic apply has shape [null, d]', () => {
      const layer = c.make();
      const z = inputs(c, 5, 1);
      const p = c.params?.(5, 2);
      const [y, logDet] = layer.forwardAndLogDet(z, p);
      expect(y.shape).toEqual([5, c.d]);
      expect(y.dtype).toBe('float32');
      expect(logDet.shape).toEqual([5]);
      expect(logDet.dtype).toBe('float32');
      const applied = layer.apply(p === undefined ? z : [z, p]);
      expectClose(applied, y, 0, 0);
      const zIn = tfl.input({shape: [c.d]});
      const sym = p === undefined ? layer.apply(zIn) : layer.apply([zIn, tfl.input({shape: [p.shape[1] as number]})]);
      expect(sym.shape).toEqual([null, c.d]);
      expect(tf.serialization.getRegisteredName(layer.constructor as tf.serialization.SerializableConstructor<tf.serialization.Serializable>)).toBe(`tfv>${c.className}`);
      // Typed apply: a result of another layer's apply (tfjs's union type) in, one tensor out.
      const union: tf.Tensor|tf.Tensor[]|tfl.SymbolicTensor|tfl.SymbolicTensor[] = tfl.layers.activation({activation: 'linear'}).apply(zIn);
      const one: tf.Tensor|tfl.SymbolicTensor = p === undefined ? layer.apply(union) : layer.apply([union, tfl.input({shape: [p.shape[1] as number]})]);
      expect(one.shape).toEqual([null, c.d]);
      expect(layer.paramSize(c.d)).toBe(p === undefined ? 0 : p.shape[1]);
    });

    it('has log-det equal to log|det J| of the autodiff Jacobian (16 points), and det J > 0', () => {
      const layer = c.make();
      const z = inputs(c, 16, 3);
      const p = c.params?.(16, 4);
      const jac = jacobians((x) => layer.forwardAndLogDet(x, p)[0], z);
      const logDet = Array.from(layer.forwardAndLogDet(z, p)[1].dataSync());
      jac.forEach((J, b) => {
        const {logAbs, sign} = logAbsDet(J);
        expect(sign).toBe(1);
        // Measured: at most 5e-6 (planar), 1e-6 (radial), 5e-7 (IAF) on cpu and wasm.
        expect(Math.abs(logDet[b] - logAbs)).toBeLessThan(5e-5 * Math.max(1, Math.abs(logAbs)));
      });
    });

    it('inverts: inverse(forward(z)) ≈ z and the log-dets cancel; forward(inverse(y)) ≈ y', () => {
      const layer = c.make();
      const z = inputs(c, 32, 5);
      const p = c.params?.(32, 6);
      const [y, logDet] = layer.forwardAndLogDet(z, p);
      const [zBack, inverseLogDet] = layer.inverseAndLogDet(y, p);
      expectClose(zBack, z, 1e-4, 1e-4);
      expectClose(tf.neg(inverseLogDet), logDet, 1e-4, 1e-4);
      const y2 = inputs(c, 32, 7);
      const [z2] = layer.inverseAndLogDet(y2, p);
      expectClose(layer.forwardAndLogDet(z2, p)[0], y2, 1e-4, 1e-4);
    });

    it('has finite gradients of Σ f(z) + Σ logDet for z, weights and params', () => {
      const layer = c.make();
      const z = inputs(c, 8, 9);
      const p = c.params?.(8, 10);
      const objective = (x: tf.Tensor, q?: tf.Tensor) => {
        const [y, logDet] = layer.forwardAndLogDet(x, q);
        return tf.add(tf.sum(y), tf.sum(logDet)) as tf.Scalar;
      };
      const gz = tf.grad((x: tf.Tensor) => objective(x, p))(z);
      expect(Array.from(gz.dataSync()).every(Number.isFinite)).toBe(true);
      if (p !== undefined) {
        const gp = tf.grad((q: tf.Tensor) => objective(z, q))(p);
        expect(Array.from(gp.dataSync()).every(Number.isFinite)).toBe(true);
        expect(Array.from(gp.dataSync()).some((v) => v !== 0)).toBe(true);
      }
      const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      if (vars.length > 0) {
        const {grads} = tf.variableGrads(() => objective(z, p), vars);
        for (const v of vars) {
          const g = Array.from(grads[v.name].dataSync());
          expect(g.every(Number.isFinite)).toBe(true);
        }
        expect(Object.values(grads).some((g) => Array.from(g.dataSync()).some((v) => v !== 0))).toBe(true);
      }
    });

    it('round-trips its config (getConfig → fromConfig) and a model through save/load with identical outputs', async () => {
      const layer = c.make();
      const config = layer.getConfig();
      const cls = tf.serialization.SerializationMap.getMap().classNameMap[c.className];
      const fromConfig = (cfg: tf.serialization.ConfigDict) => cls[1](cls[0], cfg) as FlowLayer;
      const rebuilt = fromConfig(JSON.parse(JSON.stringify(config)));
      expect(rebuilt).toBeInstanceOf(cls[0]);
      expect(rebuilt.getConfig()).toEqual(config);
      expect(JSON.parse(JSON.stringify(config))).toEqual(config);

      const zIn = tfl.input({shape: [c.d]});
      const p = c.params?.(6, 12);
      const pIn = p === undefined ? null : tfl.input({shape: [p.shape[1] as number]});
      const flow = fromConfig({...config, name: 'flow'});
      const out = pIn === null ? flow.apply(zIn) : flow.apply([zIn, pIn]);
      const model = tfl.model({inputs: pIn === null ? zIn : [zIn, pIn], outputs: out});
      flow.setWeights(layer.getWeights());
      const loaded = await roundTripInMemory(model);
      const loadedFlow = loaded.getLayer('flow');
      expect(loadedFlow).toBeInstanceOf(cls[0]);
      expect(loadedFlow.getConfig()).toEqual(flow.getConfig());
      expect(loadedFlow.getWeights().map((w) => w.shape)).toEqual(flow.getWeights().map((w) => w.shape));
      const z = inputs(c, 6, 11);
      const feed = p === undefined ? z : [z, p];
      expectClose(loaded.predict(feed) as tf.Tensor, model.predict(feed) as tf.Tensor, 0, 0);
      expectClose(loaded.predict(feed) as tf.Tensor, layer.forwardAndLogDet(z, p)[0], 0, 0);
    });

    it('trains through model.fit on an objective with its log-det (reverse KL to N(1, 0.5²)), loss falling', async () => {
      // −log p(f(z)) − log|det ∂f/∂z| for z ~ N(0, 1.5²) (fixed, seeded): the Monte Carlo reverse KL up to a
      // constant. Amortized parameters (and the IAF context) come from a dense layer on a second input, so
      // the gradient reaches an encoder through params.
      const layer = c.make();
      const zIn = tfl.input({shape: [c.d]});
      const size = layer.paramSize(c.d);
      const ctxIn = size > 0 ? tfl.input({shape: [3]}) : null;
      const out = ctxIn === null ? withLogDetOutput(layer).apply(zIn) :
          withLogDetOutput(layer).apply([zIn, tfl.layers.dense({units: size}).apply(ctxIn) as tfl.SymbolicTensor]);
      const model = tfl.model({inputs: ctxIn === null ? zIn : [zIn, ctxIn], outputs: out as tfl.SymbolicTensor});
      const d = c.d;
      model.compile({
        optimizer: tf.train.adam(0.02),
        loss: (_yTrue: tf.Tensor, yPred: tf.Tensor) => tf.tidy(() => {
          const zK = tf.slice(yPred, [0, 0], [-1, d]);
          const logDet = tf.reshape(tf.slice(yPred, [0, d], [-1, 1]), [-1]);
          const negLogP = tf.sum(tf.mul(tf.square(tf.sub(zK, 1)), 0.5 / 0.25), -1);
          return tf.mean(tf.sub(negLogP, logDet));
        }),
      });
      const z = inputs(c, 100, 21);
      const feed = ctxIn === null ? z : [z, seededMatrix(100, 3, 22)];
      const h = await model.fit(feed, tf.zeros([100, d + 1]), {epochs: 12, batchSize: 20, verbose: 0});
      const losses = h.history['loss'] as number[];
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[losses.length - 1]).toBeLessThan(losses[0] - 0.1);
    });

    it('frees every intermediate tensor over 50 calls of forward, inverse and apply', () => {
      const layer = c.make();
      const z = inputs(c, 4, 13);
      const p = c.params?.(4, 14);
      const feed = p === undefined ? z : [z, p] as [tf.Tensor, tf.Tensor];
      tf.dispose([layer.forwardAndLogDet(z, p), layer.inverseAndLogDet(z, p), layer.apply(feed)]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 50; i++) {
        tf.dispose(layer.forwardAndLogDet(z, p));
        tf.dispose(layer.inverseAndLogDet(z, p));
        tf.dispose(layer.apply(feed));
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  describe('parameter gradients against central differences', () => {
    /** Σ f(z) + Σ logDet in float64 for one row's parameters. */
    const objective64 = (ref: {y: number[], logDet: number}) => ref.y.reduce((a, v) => a + v, 0) + ref.logDet;

    it.each([
      ['planar', 3, 7, (q: number[], z: number[]) => objective64(planar64(q.slice(0, 3), q.slice(3, 6), q[6], z))],
      ['radial', 3, 5, (q: number[], z: number[]) => objective64(radial64(q.slice(0, 3), q[3], q[4], z))],
    ] as const)('%s (amortized): ∂(Σ f + Σ logDet)/∂params equals float64 central differences (8 rows)', (kind, d, size, f64) => {
      const flow = kind === 'planar' ? tfv.flows.planarFlow({amortized: true}) : tfv.flows.radialFlow({amortized: true});
      const p = seededMatrix(8, size, 81, 1.5);
      const z = seededMatrix(8, d, 82, 1.5);
      const g = tf.grad((q: tf.Tensor) => {
        const [y, logDet] = flow.forwardAndLogDet(z, q);
        return tf.add(tf.sum(y), tf.sum(logDet)) as tf.Scalar;
      })(p).arraySync() as number[][];
      const zs = z.arraySync() as number[][];
      (p.arraySync() as number[][]).forEach((q, b) => {
        const fd = q.map((_, i) => {
          const h = 1e-6;
          const plus = [...q];
          const minus = [...q];
          plus[i] += h;
          minus[i] -= h;
          return (f64(plus, zs[b]) - f64(minus, zs[b])) / (2 * h);
        });
        expectClose(g[b], fd, 1e-3, 1e-4);
      });
    });

    it('IAF: ∂(Σ f + Σ logDet)/∂weights equals central differences of the layer itself (float32, h = 1e-2)', () => {
      // tanh hidden units: smooth, so central differences have O(h²) error everywhere (relu's kink would not).
      const layer = built(tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 7, order: [2, 0, 3, 1], contextSize: 2, activation: 'tanh'}), 4, 2);
      randomizeWeights(layer, 505, 0.5);
      const z = seededMatrix(6, 4, 83, 1.5);
      const p = seededMatrix(6, 2, 84);
      const objective = () => {
        const [y, logDet] = layer.forwardAndLogDet(z, p);
        return tf.add(tf.sum(y), tf.sum(logDet)) as tf.Scalar;
      };
      const vars = layer.trainableWeights.map((w) => w.read() as tf.Variable);
      const {grads} = tf.variableGrads(objective, vars);
      const h = 1e-2;
      for (const v of vars) {
        const base = Array.from(v.dataSync());
        const auto = Array.from(grads[v.name].dataSync());
        // Three entries of each weight: first, middle, last.
        for (const i of [0, Math.floor(base.length / 2), base.length - 1]) {
          const at = (delta: number) => {
            const moved = [...base];
            moved[i] += delta;
            v.assign(tf.tensor(moved, v.shape));
            return objective().dataSync()[0];
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          v.assign(tf.tensor(base, v.shape));
          expect(Math.abs(auto[i] - fd)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
        }
      }
    });
  });

  describe('PlanarFlow', () => {
    const rows = (t: tf.Tensor) => t.arraySync() as number[][];

    it('matches the float64 formulas of Rezende & Mohamed (64 rows of amortized parameters N(0, 3²))', () => {
      const d = 3;
      const flow = tfv.flows.planarFlow({amortized: true});
      const p = seededMatrix(64, 7, 31, 3);
      const z = seededMatrix(64, d, 32, 2);
      const [y, logDet] = flow.forwardAndLogDet(z, p);
      const ys = rows(y);
      const lds = logDet.arraySync() as number[];
      let worst = 0;
      rows(p).forEach((pr, b) => {
        const ref = planar64(pr.slice(0, d), pr.slice(d, 2 * d), pr[2 * d], rows(z)[b]);
        expectClose(ys[b], ref.y, 1e-4, 1e-4);
        worst = Math.max(worst, Math.abs(lds[b] - ref.logDet));
        expect(Math.abs(lds[b] - ref.logDet)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.logDet)));
      });
      expect(worst).toBeLessThan(1e-4);
    });

    it('has det J > 0 for any parameters, also wᵀu < −1 before the constraint (2,000 rows; 64 Jacobians)', () => {
      const d = 2;
      const flow = tfv.flows.planarFlow({amortized: true});
      // Parameters N(0, 5²): u and w meet at wᵀu < −1 in a third of the rows; b pulls wᵀz + b through 0.
      const p = seededMatrix(2000, 5, 41, 5);
      const z = seededMatrix(2000, d, 42, 1);
      const pr = rows(p);
      const below = pr.filter((r) => r[0] * r[2] + r[1] * r[3] < -1).length;
      expect(below).toBeGreaterThan(500);
      const logDet = Array.from(flow.forwardAndLogDet(z, p)[1].dataSync());
      expect(logDet.every(Number.isFinite)).toBe(true);
      // log det = log(1 + wᵀû tanh') with wᵀû ≥ −1: ≥ log(1 − tanh'(a)) = log tanh²(a) where tanh' ≤ 1.
      const pSub = tf.slice(p, [0, 0], [64, -1]);
      const zSub = tf.slice(z, [0, 0], [64, -1]);
      for (const J of jacobians((x) => flow.forwardAndLogDet(x, pSub)[0], zSub)) expect(logAbsDet(J).sign).toBe(1);
      // At wᵀz + b = 0 exactly (z on the hyperplane), det = 1 + wᵀû = softplus(wᵀu) > 0, the smallest det.
      const onPlane = tf.tensor2d([[0, 0]]);
      const worst = tf.tensor2d([[-3, 4, 2, 1, 0]]);  // wᵀu = −2
      expectClose(flow.forwardAndLogDet(onPlane, worst)[1], [Math.log(sp(-2))], 1e-5, 1e-6);
      const deep = tf.tensor2d([[-30, 0, 1, 0, 0]]);  // wᵀu = −30: det = softplus(−30) ≈ 9.4e-14 at a = 0
      expectClose(flow.forwardAndLogDet(onPlane, deep)[1], [Math.log(sp(-30))], 1e-5, 1e-6);
      // wᵀu = −200: det = softplus(−200) ≈ e^{−200} underflows float32, its log (−200) does not; gradients finite.
      const deeper = tf.tensor2d([[-200, 0, 1, 0, 0]]);
      expectClose(flow.forwardAndLogDet(onPlane, deeper)[1], [-200], 1e-6, 0);
      const nearPlane = tf.tensor2d([[0, 0], [1e-20, 0], [1e-3, 0], [-0.5, 0]]);
      const ld = Array.from(flow.forwardAndLogDet(nearPlane, tf.tile(deeper, [4, 1]))[1].dataSync());
      expect(ld.every(Number.isFinite)).toBe(true);
      // Off the plane det = tanh²(a) + e^{−200} tanh'(a) ≈ tanh²(a).
      expectClose(ld.slice(2), [2 * Math.log(Math.tanh(1e-3)), 2 * Math.log(Math.tanh(0.5))], 1e-5, 1e-6);
      for (const q of [worst, deep, deeper]) {
        const both = tf.grads((x: tf.Tensor, pp: tf.Tensor) => tf.sum(flow.forwardAndLogDet(x, tf.tile(pp, [4, 1]))[1]))([nearPlane, q]);
        for (const g of both) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      }
    });

    it('is finite in value and gradient at |z| = 10, 100 and 10⁴ (tanh saturated), matching float64', () => {
      const flow = tfv.flows.planarFlow();
      flow.build([null, 3]);
      flow.setWeights([tf.tensor1d([-4, 2, 1]), tf.tensor1d([1.5, 0.5, -1]), tf.scalar(0.3)]);
      for (const scale of [10, 100, 1e4]) {
        const dirs = [[1, 0, 0], [0, -1, 0], [0.6, 0.8, 0], [-0.3, 0.5, 0.81], [0, 0, -1]];
        const z = tf.tensor2d(dirs.map((v) => v.map((x) => x * scale)));
        const [y, logDet] = flow.forwardAndLogDet(z);
        const ys = rows(y);
        const lds = logDet.arraySync() as number[];
        dirs.forEach((_v, b) => {
          const ref = planar64([-4, 2, 1], [1.5, 0.5, -1], 0.3, rows(z)[b]);
          expectClose(ys[b], ref.y, 1e-6, 1e-5);
          expect(Number.isFinite(lds[b])).toBe(true);
          expect(Math.abs(lds[b] - ref.logDet)).toBeLessThan(1e-5);
        });
        const objective = (x: tf.Tensor) => {
          const [yy, ld] = flow.forwardAndLogDet(x);
          return tf.add(tf.sum(yy), tf.sum(ld)) as tf.Scalar;
        };
        expect(Array.from(tf.grad(objective)(z).dataSync()).every(Number.isFinite)).toBe(true);
        const vars = flow.trainableWeights.map((w) => w.read() as tf.Variable);
        const {grads} = tf.variableGrads(() => objective(z), vars);
        for (const g of Object.values(grads)) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      }
    });

    it('with w = 0 is z + u tanh(b) with log-det 0 and finite gradients (no 0/0 in û)', () => {
      const flow = tfv.flows.planarFlow({amortized: true});
      const p = tf.tensor2d([[1, -2, 0, 0, 0.5]]);
      const z = tf.tensor2d([[0.3, 0.7]]);
      const [y, logDet] = flow.forwardAndLogDet(z, p);
      expectClose(y, [0.3 + Math.tanh(0.5), 0.7 - 2 * Math.tanh(0.5)], 1e-6, 1e-6);
      expectClose(logDet, [0], 0, 1e-7);
      const g = tf.grad((q: tf.Tensor) => tf.sum(flow.forwardAndLogDet(z, q)[1]))(p);
      expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    });

    it('differentiates through its numerical inverse (the Newton step gives the implicit gradient)', () => {
      // d/dy Σ f⁻¹(y) = 1ᵀ J⁻¹ at z = f⁻¹(y): check against the inverse of the autodiff forward Jacobian.
      const flow = tfv.flows.planarFlow({amortized: true});
      const p = tf.tensor2d([[-4, 2, 1, 1.5, 0.5, -1, 0.3]]);
      const y = tf.tensor2d([[0.4, -0.2, 0.9]]);
      const g = Array.from(tf.grad((x: tf.Tensor) => tf.sum(flow.inverseAndLogDet(x, p)[0]))(y).dataSync());
      const z = flow.inverseAndLogDet(y, p)[0];
      const [J] = jacobians((x) => flow.forwardAndLogDet(x, p)[0], z);
      // Solve Jᵀ v = 1 (v = J⁻ᵀ 1, the gradient of 1ᵀ f⁻¹) by Cramer's rule in float64.
      const det3 = (m: number[][]) => logAbsDet(m).sign * Math.exp(logAbsDet(m).logAbs);
      const jt = J[0].map((_, i) => J.map((row) => row[i]));
      const v = [0, 1, 2].map((k) => det3(jt.map((row) => row.map((x, j) => (j === k ? 1 : x)))) / det3(jt));
      expectClose(g, v, 1e-4, 1e-4);
    });
  });

  describe('RadialFlow', () => {
    const rows = (t: tf.Tensor) => t.arraySync() as number[][];

    it('matches the float64 formulas (64 rows of amortized parameters N(0, 2²))', () => {
      const d = 4;
      const flow = tfv.flows.radialFlow({amortized: true});
      const p = seededMatrix(64, d + 2, 51, 2);
      const z = seededMatrix(64, d, 52, 2);
      const [y, logDet] = flow.forwardAndLogDet(z, p);
      const lds = logDet.arraySync() as number[];
      rows(p).forEach((pr, b) => {
        const ref = radial64(pr.slice(0, d), pr[d], pr[d + 1], rows(z)[b]);
        expectClose(rows(y)[b], ref.y, 1e-5, 1e-5);
        expect(Math.abs(lds[b] - ref.logDet)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.logDet)));
      });
    });

    it('keeps β ≥ −α: at β = −α + softplus(−30) (and −80) the log-det is finite and the map contracts onto z0', () => {
      const d = 3;
      const flow = tfv.flows.radialFlow({amortized: true});
      const z = seededMatrix(16, d, 53, 1);
      for (const betaRaw of [-30, -80]) {
        const p = tf.concat([tf.zeros([16, d]), tf.fill([16, 1], 0.7), tf.fill([16, 1], betaRaw)], 1);
        const [y, logDet] = flow.forwardAndLogDet(z, p);
        const lds = logDet.arraySync() as number[];
        expect(lds.every(Number.isFinite)).toBe(true);
        rows(z).forEach((zr, b) => {
          const ref = radial64([0, 0, 0], 0.7, betaRaw, zr);
          expectClose(rows(y)[b], ref.y, 1e-5, 1e-6);
          expect(Math.abs(lds[b] - ref.logDet)).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref.logDet)));
        });
        // Every β̃ keeps 1 + βh ≥ 0 and 1 + βh + βh'r > 0: det J > 0 by autodiff.
        for (const J of jacobians((x) => flow.forwardAndLogDet(x, p)[0], z)) expect(logAbsDet(J).sign).toBe(1);
      }
    });

    it('is finite at r = 0 exactly (z = z0): f(z0) = z0, J = (σ/α) I, log-det d·log(σ/α), finite gradients', () => {
      const d = 3;
      const flow = tfv.flows.radialFlow();
      flow.build([null, d]);
      const z0 = [0.5, -0.3, 0.2];
      flow.setWeights([tf.tensor1d(z0), tf.scalar(-0.5), tf.scalar(1.2)]);
      const z = tf.tensor2d([z0]);
      const [y, logDet] = flow.forwardAndLogDet(z);
      expectClose(y, z0, 1e-6, 1e-7);
      const ratio = sp(1.2) / sp(-0.5);
      expectClose(logDet, [d * Math.log(ratio)], 1e-5, 1e-6);
      const [J] = jacobians((x) => flow.forwardAndLogDet(x)[0], z);
      expectClose(J.flat(), [ratio, 0, 0, 0, ratio, 0, 0, 0, ratio], 1e-5, 1e-6);
      const objective = (x: tf.Tensor) => {
        const [yy, ld] = flow.forwardAndLogDet(x);
        return tf.add(tf.sum(yy), tf.sum(ld)) as tf.Scalar;
      };
      expect(Array.from(tf.grad(objective)(z).dataSync()).every(Number.isFinite)).toBe(true);
      const {grads} = tf.variableGrads(() => objective(z), flow.trainableWeights.map((w) => w.read() as tf.Variable));
      for (const g of Object.values(grads)) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      // The inverse at y = z0 (ρ = 0) is z0, with finite gradients too.
      expectClose(flow.inverseAndLogDet(z)[0], z0, 1e-6, 1e-7);
      const gInv = tf.grad((x: tf.Tensor) => tf.sum(flow.inverseAndLogDet(x)[0]))(z);
      expect(Array.from(gInv.dataSync()).every(Number.isFinite)).toBe(true);
    });

    it('is finite at |z| = 10, 100 and 10⁴, with log-det → 0', () => {
      const flow = tfv.flows.radialFlow({amortized: true});
      const p = tf.tensor2d([[0.1, 0.2, 1.5, 2]]);
      for (const scale of [10, 100, 1e4]) {
        const z = tf.tensor2d([[scale, 0]]);
        const [y, logDet] = flow.forwardAndLogDet(z, p);
        const ref = radial64([0.1, 0.2], 1.5, 2, [scale, 0]);
        expectClose(y, ref.y, 1e-6, 1e-5);
        expectClose(logDet, [ref.logDet], 1e-4, 1e-6);
        const g = tf.grad((x: tf.Tensor) => tf.add(tf.sum(flow.forwardAndLogDet(x, p)[0]), tf.sum(flow.forwardAndLogDet(x, p)[1])))(z);
        expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
      }
    });
  });

  describe('InverseAutoregressiveFlow', () => {
    const iafCases = CASES.filter((c) => c.className === 'InverseAutoregressiveFlow');

    it.each(iafCases.map((c) => [c.name, c] as const))('%s: J is triangular in the order, diagonal σ, log-det Σ log σ', (_n, c) => {
      const layer = c.make() as InverseAutoregressiveFlow;
      const order = layer.order;
      expect([...order].sort()).toEqual(Array.from({length: c.d}, (_, i) => i));
      const z = inputs(c, 8, 61);
      const p = c.params?.(8, 62);
      const jac = jacobians((x) => layer.forwardAndLogDet(x, p)[0], z);
      const logDet = Array.from(layer.forwardAndLogDet(z, p)[1].dataSync());
      jac.forEach((J, b) => {
        let sumLogDiag = 0;
        for (let k = 0; k < c.d; k++) {
          // Output order[k] does not depend on inputs that come at or after it, except its own z (slope σ).
          for (let l = k + 1; l < c.d; l++) expect(J[order[k]][order[l]]).toBe(0);
          const diag = J[order[k]][order[k]];
          expect(diag).toBeGreaterThan(0);
          expect(diag).toBeLessThan(1);
          sumLogDiag += Math.log(diag);
        }
        expect(Math.abs(logDet[b] - sumLogDiag)).toBeLessThan(1e-5 * Math.max(1, Math.abs(sumLogDiag)));
      });
    });

    it('starts at σ = sigmoid(forgetBias) with zero kernels: f(z) = σ z, log-det d·log σ', () => {
      const flow = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 4, forgetBias: 1.5, kernelInitializer: 'zeros'});
      const z = seededMatrix(5, 3, 63);
      const [y, logDet] = flow.forwardAndLogDet(z);
      const sigma = 1 / (1 + Math.exp(-1.5));
      expectClose(y, tf.mul(z, sigma), 1e-6, 1e-7);
      expectClose(logDet, new Array(5).fill(3 * Math.log(sigma)), 1e-6, 1e-6);
      // The default gate bias is 2 (σ ≈ 0.88), and the weights are the MADE's, never its masks.
      const byDefault = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 4, numLayers: 2, contextSize: 2});
      byDefault.build([[null, 3], [null, 2]]);
      expect(byDefault.weights.map((w) => w.originalName.split('/').pop())).toEqual(
          ['kernel_0', 'bias_0', 'kernel_1', 'bias_1', 'context_kernel', 'shift_kernel', 'shift_bias', 'gate_kernel', 'gate_bias']);
      expectClose(byDefault.weights[8].read(), [2, 2, 2], 0, 0);
    });

    it('builds on a first forwardAndLogDet through apply: weights named in the layer\'s own scope', () => {
      const a = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 3, name: 'iaf_a'});
      const b = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 3, name: 'iaf_b'});
      const z = tf.zeros([2, 3]);
      const before = tf.memory().numTensors;
      const results = [a.forwardAndLogDet(z), b.forwardAndLogDet(z)];
      expect(a.built && b.built).toBe(true);
      expect(a.weights[0].name).toMatch(/^iaf_a\/kernel_0/);
      expect(b.weights[0].name).toMatch(/^iaf_b\/kernel_0/);
      tf.dispose(results);
      expect(tf.memory().numTensors).toBe(before + a.weights.length + b.weights.length);
    });

    it('orders: the default is 0..d−1, reverse d−1..0, an explicit order as given', () => {
      const make = (args: tfv.flows.InverseAutoregressiveFlowArgs) => {
        const f = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 4, ...args});
        f.build([null, 4]);
        return f.order;
      };
      expect(make({})).toEqual([0, 1, 2, 3]);
      expect(make({reverse: true})).toEqual([3, 2, 1, 0]);
      expect(make({order: [2, 0, 3, 1]})).toEqual([2, 0, 3, 1]);
    });
  });

  describe('chains', () => {
    function stack(): FlowLayer[] {
      return [CASES[0].make(), CASES[2].make(), (() => {
        const f = built(tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 6, reverse: true}), 3);
        randomizeWeights(f, 404, 0.5);
        return f;
      })()];
    }

    it('composes forward maps and sums log-dets; the sum is log|det J| of the composition; the inverse chain inverts', () => {
      const flows = stack();
      const z = seededMatrix(12, 3, 71, 1.5);
      const [zK, logDet] = tfv.flows.chainForwardAndLogDet(flows, z);
      let x: tf.Tensor = z;
      let sum = tf.zeros([12]);
      for (const f of flows) {
        const [y, ld] = f.forwardAndLogDet(x);
        x = y;
        sum = tf.add(sum, ld);
      }
      expectClose(zK, x, 0, 0);
      expectClose(logDet, sum, 1e-6, 1e-6);
      const jac = jacobians((v) => tfv.flows.chainForwardAndLogDet(flows, v)[0], z);
      const lds = Array.from(logDet.dataSync());
      jac.forEach((J, b) => expect(Math.abs(logAbsDet(J).logAbs - lds[b])).toBeLessThan(2e-4 * Math.max(1, Math.abs(lds[b]))));
      const [zBack, inverseLogDet] = tfv.flows.chainInverseAndLogDet(flows, zK);
      expectClose(zBack, z, 1e-4, 1e-4);
      expectClose(tf.neg(inverseLogDet), logDet, 1e-4, 1e-4);
    });

    it('passes params per member (amortized planar and radial, a global IAF) or one context to every member', () => {
      const planar = tfv.flows.planarFlow({amortized: true});
      const radial = tfv.flows.radialFlow({amortized: true});
      const iaf = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 5});
      const z = seededMatrix(6, 2, 72);
      const pp = seededMatrix(6, tfv.flows.PlanarFlow.paramSize(2), 73);
      const pr = seededMatrix(6, tfv.flows.RadialFlow.paramSize(2), 74);
      const [zK, logDet] = tfv.flows.chainForwardAndLogDet([planar, radial, iaf], z, [pp, pr, undefined]);
      const [a, la] = planar.forwardAndLogDet(z, pp);
      const [b, lb] = radial.forwardAndLogDet(a, pr);
      const [c, lc] = iaf.forwardAndLogDet(b);
      expectClose(zK, c, 0, 0);
      expectClose(logDet, tf.add(tf.add(la, lb), lc), 1e-6, 1e-6);
      const [back] = tfv.flows.chainInverseAndLogDet([planar, radial, iaf], zK, [pp, pr, undefined]);
      expectClose(back, z, 1e-4, 1e-4);
      // One context h for a stack of IAFs with alternating orders.
      const h = seededMatrix(6, 3, 75);
      const iafs = [false, true].map((reverse) => tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 5, reverse, contextSize: 3}));
      const [y2, ld2] = tfv.flows.chainForwardAndLogDet(iafs, z, h);
      const [m1, l1] = iafs[0].forwardAndLogDet(z, h);
      const [m2, l2] = iafs[1].forwardAndLogDet(m1, h);
      expectClose(y2, m2, 0, 0);
      expectClose(ld2, tf.add(l1, l2), 1e-6, 1e-6);
    });

    it('frees every intermediate tensor over 50 chained calls', () => {
      const flows = stack();
      const z = seededMatrix(4, 3, 76);
      tf.dispose([tfv.flows.chainForwardAndLogDet(flows, z), tfv.flows.chainInverseAndLogDet(flows, z)]);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 50; i++) {
        tf.dispose(tfv.flows.chainForwardAndLogDet(flows, z));
        tf.dispose(tfv.flows.chainInverseAndLogDet(flows, z));
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});

describe('argument errors', () => {
  beforeAll(async () => useBackend('cpu'));

  it('rejects unknown and ill-typed options, naming them and the value received', () => {
    expect(() => tfv.flows.planarFlow({amortised: true} as tfv.flows.PlanarFlowArgs)).toThrow(/planarFlow: unknown option 'amortised'. Known options: amortized/);
    expect(() => tfv.flows.planarFlow({amortized: 1 as unknown as boolean})).toThrow(/planarFlow: expected amortized to be a boolean. Received: amortized=1/);
    expect(() => tfv.flows.planarFlow({kernelInitializer: 'bogus' as 'zeros'})).toThrow(/kernelInitializer.*Received: kernelInitializer='bogus'/);
    expect(() => tfv.flows.radialFlow({center: 1} as tfv.flows.RadialFlowArgs)).toThrow(/radialFlow: unknown option 'center'/);
    expect(() => tfv.flows.radialFlow({amortized: 'yes' as unknown as boolean})).toThrow(/radialFlow: expected amortized to be a boolean. Received: amortized='yes'/);
    const iaf = tfv.flows.inverseAutoregressiveFlow;
    expect(() => iaf({hiddenUnit: 3} as tfv.flows.InverseAutoregressiveFlowArgs)).toThrow(/unknown option 'hiddenUnit'/);
    expect(() => iaf({hiddenUnits: 0})).toThrow(/expected hiddenUnits to be a positive integer. Received: hiddenUnits=0/);
    expect(() => iaf({numLayers: 0})).toThrow(/expected numLayers to be a positive integer. Received: numLayers=0/);
    expect(() => iaf({activation: 'sigmoid' as 'elu'})).toThrow(/activation to be one of 'elu', 'relu', 'tanh'. Received: activation='sigmoid'/);
    expect(() => iaf({order: [0, 0, 1]})).toThrow(/order to be a permutation of 0..d−1. Received: order=\[0, 0, 1\]/);
    expect(() => iaf({order: [1, 0], reverse: true})).toThrow(/either order or reverse, not both/);
    expect(() => iaf({reverse: 1 as unknown as boolean})).toThrow(/reverse to be a boolean. Received: reverse=1/);
    expect(() => iaf({contextSize: 0})).toThrow(/contextSize to be a positive integer \(or null: no context\). Received: contextSize=0/);
    expect(() => iaf({contextSize: 1.5})).toThrow(/contextSize to be an integer. Received: contextSize=1.5/);
    expect(() => iaf({forgetBias: NaN})).toThrow(/forgetBias to be a finite number. Received: forgetBias=NaN/);
    expect(() => iaf({order: [1, 0, 2]}).apply(tf.zeros([2, 4]))).toThrow(/order to be a permutation of 0..3 \(one entry per dimension\). Received: order=\[1, 0, 2\]/);
  });

  it('rejects inputs that are not [batch, d] with d known, and params of the wrong shape, dtype or presence', () => {
    const planar = tfv.flows.planarFlow();
    expect(() => planar.apply(tfl.input({shape: [3, 2]}))).toThrow(/planarFlow: expected z of shape \[batch, d\] with d known. Received: z shape=\[null, 3, 2\]/);
    expect(() => planar.apply(tfl.input({shape: [null]}))).toThrow(/Received: z shape=\[null, null\]/);
    expect(() => planar.forwardAndLogDet(tf.zeros([4]))).toThrow(/Received: z shape=\[4\]/);
    planar.apply(tf.zeros([2, 3]));
    expect(() => planar.forwardAndLogDet(tf.zeros([2, 4]))).toThrow(/was built for rows of size 3. Received: z shape=\[2, 4\]/);
    expect(() => planar.forwardAndLogDet(tf.zeros([2, 3], 'int32'))).toThrow(/expected z to be float32. Received: z dtype=int32/);
    expect(() => planar.forwardAndLogDet(tf.zeros([2, 3]), tf.zeros([2, 7]))).toThrow(/takes no per-example parameters.*Received: params shape=\[2, 7\]/);
    expect(() => planar.forwardAndLogDet([1, 2] as unknown as tf.Tensor)).toThrow(/expected z to be a tensor/);

    const amortized = tfv.flows.planarFlow({amortized: true});
    expect(() => amortized.forwardAndLogDet(tf.zeros([2, 3]))).toThrow(/takes per-example parameters: expected \[z, params\] with params of shape \[batch, 7\]/);
    expect(() => amortized.forwardAndLogDet(tf.zeros([2, 3]), tf.zeros([2, 6]))).toThrow(/expected params of shape \[batch, 7\] for rows of size 3. Received: params shape=\[2, 6\]/);
    expect(() => amortized.forwardAndLogDet(tf.zeros([2, 3]), tf.zeros([3, 7]))).toThrow(/one row per row of z. Received: z shape=\[2, 3\], params shape=\[3, 7\]/);
    expect(() => amortized.apply([tfl.input({shape: [3]}), tfl.input({shape: [5]})])).toThrow(/params of shape \[batch, 7\]/);
    expect(() => tfv.flows.radialFlow({amortized: true}).inverseAndLogDet(tf.zeros([2, 3]), tf.zeros([2, 4]))).toThrow(/radialFlow: expected params of shape \[batch, 5\]/);
    expect(() => tfv.flows.inverseAutoregressiveFlow({contextSize: 2}).forwardAndLogDet(tf.zeros([2, 3]))).toThrow(/inverseAutoregressiveFlow: .*takes per-example parameters.*\[batch, 2\]/);
  });

  it('chains: a member without an inverse is named; bad bijector lists and params are rejected', () => {
    class ShiftOnly implements Bijector {
      forwardAndLogDet(z: tf.Tensor): [tf.Tensor, tf.Tensor] {
        return [tf.add(z, 1), tf.zeros([z.shape[0]])];
      }
    }
    const z = tf.zeros([2, 3]);
    const planar = tfv.flows.planarFlow();
    const [y] = tfv.flows.chainForwardAndLogDet([new ShiftOnly(), planar], z);
    expectClose(y, planar.forwardAndLogDet(tf.ones([2, 3]))[0], 0, 0);
    expect(() => tfv.flows.chainInverseAndLogDet([planar, new ShiftOnly()], z)).toThrow(/ShiftOnly has no inverse: it defines forwardAndLogDet only/);
    class NoInverseFlow extends FlowLayer {
      static className = 'NoInverseFlow';
      protected readonly where = 'noInverseFlow';
      paramSize(): number { return 0; }
      protected buildWeights(): void {}
      protected forward(x: tf.Tensor): [tf.Tensor, tf.Tensor] { return [tf.clone(x), tf.zeros([x.shape[0]])]; }
    }
    expect(() => new NoInverseFlow({}).inverseAndLogDet(z)).toThrow(/NoInverseFlow has no inverse/);
    expect(() => tfv.flows.chainForwardAndLogDet([], z)).toThrow(/chainForwardAndLogDet: expected a non-empty array of bijectors. Received: bijectors=\[\]/);
    expect(() => tfv.flows.chainForwardAndLogDet([{} as Bijector], z)).toThrow(/bijector 0 has no forwardAndLogDet method/);
    expect(() => tfv.flows.chainForwardAndLogDet([planar, planar], z, [undefined])).toThrow(/params to be one tensor or an array of 2 entries \(one per bijector\). Received: params=an array of 1/);
  });
});

describe('MADE masks', () => {
  /** Whether a path connects input i to output j through the masks (boolean matrix product). */
  function reach(masks: ReturnType<typeof madeMasks>): boolean[][] {
    let r = Array.from({length: masks[0].shape[0]}, (_, i) => Array.from({length: masks[0].shape[1]}, (_, k) => masks[0].values[i * masks[0].shape[1] + k] === 1));
    for (const m of masks.slice(1)) {
      const [rows, cols] = m.shape;
      r = r.map((row) => Array.from({length: cols}, (_, j) => row.some((on, k) => on && k < rows && m.values[k * cols + j] === 1)));
    }
    return r;
  }

  it.each([[1, 4, 1], [2, 1, 1], [3, 5, 2], [5, 8, 3], [6, 3, 1]])(
      'd = %i, %i hidden units, %i layers: output j is reached from input i only if i comes before j, and from all of them when H ≥ d − 1',
      (d, hiddenUnits, numLayers) => {
        for (const order of [Array.from({length: d}, (_, i) => i), Array.from({length: d}, (_, i) => d - 1 - i)]) {
          const masks = madeMasks(d, hiddenUnits, numLayers, order);
          expect(masks).toHaveLength(numLayers + 1);
          expect(madeMasks(d, hiddenUnits, numLayers, order)).toEqual(masks);
          const rank = order.map((_, dim) => order.indexOf(dim));
          const r = reach(masks);
          for (let i = 0; i < d; i++) {
            for (let j = 0; j < d; j++) {
              if (rank[i] >= rank[j]) expect(r[i][j]).toBe(false);
              else if (hiddenUnits >= d - 1) expect(r[i][j]).toBe(true);
            }
          }
        }
      });
});
