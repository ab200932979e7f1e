/**
 * The WebAssembly SIMD kernels of src/perf (simd_kernels.wat) as the wasm
 * backend uses them: products, transposes, column sums, softplus and the
 * one-pass Adam update. References: the cpu backend, float64 arithmetic, and
 * for Adam tfjs's own op-by-op update bit for bit.
 */
import {spawnSync} from 'node:child_process';
import {join} from 'node:path';

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {disableFastWasmKernels, enableFastWasmKernels, getFastWasmKernelsStats} from '../src/perf';
import {simdKernelsFor} from '../src/perf/simd_kernels';
import {useBackend} from './helpers/backends';
import {values} from './helpers/values';

function tensor(shape: number[], seed: number, dtype: 'float32'|'int32' = 'float32'): tf.Tensor {
  const v = values(tf.util.sizeFromShape(shape), seed);
  return dtype === 'int32' ? tf.tensor(Int32Array.from(v, (x) => Math.round(x * 1000)), shape, 'int32') : tf.tensor(v, shape);
}

async function onCpu(fn: () => tf.Tensor): Promise<{shape: number[]; data: Float32Array|Int32Array}> {
  await useBackend('cpu');
  try {
    const t = fn();
    const out = {shape: t.shape, data: t.dataSync() as Float32Array|Int32Array};
    t.dispose();
    return out;
  } finally {
    await useBackend('wasm');
  }
}

function read(t: tf.Tensor): {shape: number[]; data: Float32Array|Int32Array} {
  const out = {shape: t.shape, data: t.dataSync() as Float32Array|Int32Array};
  t.dispose();
  return out;
}

beforeAll(async () => {
  await useBackend('wasm');
  enableFastWasmKernels();
});
afterAll(() => enableFastWasmKernels());

it('the committed module bytes are those of simd_kernels.wat', () => {
  const result = spawnSync(process.execPath, [join(__dirname, '..', 'scripts', 'build-wasm.mjs'), '--check'], {encoding: 'utf8'});
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
});

it('the module runs on the wasm backend of this Node', () => {
  expect(simdKernelsFor(tf.backend())).not.toBeNull();
  expect(simdKernelsFor(tf.findBackend('cpu'))).toBeNull();
});

describe('products', () => {
  it.each([
    ['1x1 by 1x1', [1, 1], [1, 1]],
    ['70x37 by 37x19 (row block, ragged panel)', [70, 37], [37, 19]],
    ['5x129 by 129x8', [5, 129], [129, 8]],
    ['130x257 by 257x67', [130, 257], [257, 67]],
    ['batch 2x3 of 9x6 by 6x11', [2, 3, 9, 6], [2, 3, 6, 11]],
  ])('%s agrees with cpu, with and without each transpose', async (_, shapeA, shapeB) => {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const swap = (s: number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
        const fn = () => tf.matMul(tensor(transposeA ? swap(shapeA) : shapeA, 1), tensor(transposeB ? swap(shapeB) : shapeB, 2),
                                   transposeA, transposeB);
        const fast = read(fn());
        const cpu = await onCpu(fn);
        expect(fast.shape).toEqual(cpu.shape);
        const k = shapeA[shapeA.length - 1];
        for (let i = 0; i < cpu.data.length; i++) {
          // Sums of k products of values in [-1, 1): float32 rounding grows with k.
          expect(Math.abs(fast.data[i] - cpu.data[i])).toBeLessThanOrEqual(1e-6 * k);
        }
      }
    }
  });

  it('an empty shared dimension gives zeros (plus the bias), empty outputs stay empty', () => {
    expect(Array.from(read(tf.matMul(tf.zeros([3, 0]), tf.zeros([0, 2]))).data)).toEqual([0, 0, 0, 0, 0, 0]);
    const biased = read(tf.fused.matMul({a: tf.zeros([2, 0]), b: tf.zeros([0, 3]), bias: tf.tensor1d([1, -2, 3]), activation: 'relu'}));
    expect(Array.from(biased.data)).toEqual([1, 0, 3, 1, 0, 3]);
    expect(read(tf.matMul(tf.zeros([0, 4]), tf.zeros([4, 5]))).shape).toEqual([0, 5]);
  });

  it('relu inside the product keeps NaN and clamps negatives, as the cpu backend does', async () => {
    const fn = () => tf.fused.matMul({
      a: tf.tensor2d([[1, NaN], [1, 1], [-1, 0]]), b: tf.tensor2d([[1, -1, 2], [0, 1, 1]]), bias: tf.tensor1d([0, -1, 0.5]),
      activation: 'relu',
    });
    const fast = Array.from(read(fn()).data);
    expect(fast).toEqual(Array.from((await onCpu(fn)).data));
    expect(fast.slice(0, 3).every(Number.isNaN)).toBe(true);
    expect(fast.slice(3)).toEqual([1, 0, 3.5, 0, 0, 0]);
  });
});

describe('transpose', () => {
  it.each([
    [[1, 1], [1, 0]], [[3, 5], [1, 0]], [[4, 4], [1, 0]], [[9, 13], [1, 0]], [[130, 257], [1, 0]],
    [[2, 7, 6], [0, 2, 1]], [[3, 2, 5, 4], [0, 1, 3, 2]],
  ])('of shape %j by %j is exact, float32 and int32', async (shape, perm) => {
    for (const dtype of ['float32', 'int32'] as const) {
      const before = getFastWasmKernelsStats().simd;
      const fast = read(tf.transpose(tensor(shape, 3, dtype), perm));
      expect(getFastWasmKernelsStats().simd).toBe(before + 1);
      const cpu = await onCpu(() => tf.transpose(tensor(shape, 3, dtype), perm));
      expect(fast.shape).toEqual(cpu.shape);
      expect(Array.from(fast.data)).toEqual(Array.from(cpu.data));
    }
  });

  it('leaves other permutations to the wasm kernel', async () => {
    const before = getFastWasmKernelsStats().simd;
    const fast = read(tf.transpose(tensor([3, 4, 5], 4), [1, 0, 2]));
    expect(getFastWasmKernelsStats().simd).toBe(before);
    expect(Array.from(fast.data)).toEqual(Array.from((await onCpu(() => tf.transpose(tensor([3, 4, 5], 4), [1, 0, 2]))).data));
  });
});

describe('sum over leading axes', () => {
  it.each([
    [[256, 784], 0, false], [[1, 256, 784], [0, 1], false], [[5, 3, 7], [1, 0], true], [[9, 6], -2, false],
    [[4, 3], [0], true], [[7, 1], 0, false],
  ] as Array<[number[], number|number[], boolean]>)('of shape %j over %j (keepDims %s) agrees with float64', (shape, axis, keepDims) => {
    const x = tensor(shape, 5);
    const xs = x.dataSync();
    const before = getFastWasmKernelsStats().simd;
    const fast = read(tf.sum(x, axis, keepDims));
    expect(getFastWasmKernelsStats().simd).toBe(before + 1);
    const reduced = [axis].flat().length;
    const cols = tf.util.sizeFromShape(shape.slice(reduced));
    const rows = xs.length / cols;
    expect(fast.shape).toEqual(keepDims ? [...shape.slice(0, reduced).map(() => 1), ...shape.slice(reduced)] : shape.slice(reduced));
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let i = 0; i < rows; i++) s += xs[i * cols + j];
      expect(Math.abs(fast.data[j] - s)).toBeLessThanOrEqual(1e-6 * rows);
    }
    x.dispose();
  });

  it('leaves other reductions and int32 to the wasm kernel', () => {
    const x = tensor([6, 5], 6);
    const before = getFastWasmKernelsStats().simd;
    const rows = read(tf.sum(x, 1));
    const all = read(tf.sum(x));
    const ints = read(tf.sum(tensor([6, 5], 6, 'int32'), 0));
    expect(getFastWasmKernelsStats().simd).toBe(before);
    expect(rows.shape).toEqual([6]);
    expect(all.shape).toEqual([]);
    expect(ints.shape).toEqual([5]);
    x.dispose();
  });
});

describe('softplus', () => {
  /** float64 reference, rounded to float32. */
  const reference = (x: number) => Math.fround(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

  // Results below the smallest normal float32 (softplus(x) for x < −87.3) may be flushed to zero.
  it('is within 2 float32 ulps of float64 from -100 to 100 and at the extremes', () => {
    const xs: number[] = [];
    for (let i = -4000; i <= 4000; i++) xs.push(i / 40);
    // and 100,000 points spread over every binade from 1e-30 to 3e38, both signs
    const u = values(100000, 21);
    for (let i = 0; i < u.length; i++) xs.push(Math.sign(u[i]) * 10 ** (Math.abs(u[i]) * 68.5 - 30));
    xs.push(0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 15.9, 16.1, 87, -87, 88.7, -88.7, 1e30, -1e30, 3.4e38, -3.4e38);
    const before = getFastWasmKernelsStats().simd;
    const out = read(tf.softplus(tf.tensor1d(xs))).data;
    expect(getFastWasmKernelsStats().simd).toBe(before + 1);
    xs.forEach((x, i) => {
      const want = reference(Math.fround(x));
      const ulp = Math.max(Math.abs(want) * 2 ** -23, 2 ** -127);
      if (!(Math.abs(out[i] - want) <= 2 * ulp)) throw new Error(`softplus(${x}) = ${out[i]}, float64 gives ${want}`);
    });
  });

  it('keeps NaN and the infinities', () => {
    expect(Array.from(read(tf.softplus(tf.tensor1d([NaN, Infinity, -Infinity]))).data)).toEqual([NaN, Infinity, 0]);
  });

  it('has the gradient sigmoid(x)', () => {
    const x = tf.tensor1d([-30, -2, 0, 0.5, 3, 40]);
    const g = read(tf.grad((t: tf.Tensor) => tf.sum(tf.softplus(t)))(x)).data;
    Array.from(x.dataSync()).forEach((v, i) => expect(g[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 6));
    x.dispose();
  });
});

describe('one-pass Adam on wasm', () => {
  interface Run {
    weights: number[][];
    moments: number[][];
    iterations: number;
  }

  /** A few steps of `tf.train.adam` on a model with awkward sizes (not multiples of 4, a single element). */
  async function train(fast: boolean, args: [number, number, number, number]): Promise<Run> {
    if (fast) enableFastWasmKernels(); else disableFastWasmKernels();
    const variables = [tf.variable(tensor([37, 13], 7)), tf.variable(tensor([13], 8)), tf.variable(tensor([1], 9)),
                       tf.variable(tensor([4, 4], 10))];
    const x = tensor([5, 37], 11);
    const optimizer = tf.train.adam(...args);
    const loss = () => tf.tidy(() => {
      const [w, b, s, q] = variables;
      const h = tf.add(tf.matMul(x, w), b);
      return tf.add(tf.mean(tf.square(tf.mul(h, s))), tf.sum(tf.mul(q, q))) as tf.Scalar;
    });
    for (let i = 0; i < 6; i++) tf.dispose(optimizer.minimize(loss, true) ?? []);
    // A call with a subset of the variables, as a map (tfjs indexes moments by position: the first one).
    const g = tf.grads((w: tf.Tensor) => tf.sum(tf.mul(w, w)))([variables[0]]);
    optimizer.applyGradients({[variables[0].name]: g[0]} as unknown as Parameters<typeof optimizer.applyGradients>[0]);
    tf.dispose(g);
    const saved = await optimizer.getWeights();
    const run: Run = {
      weights: variables.map((v) => Array.from(v.dataSync())),
      moments: saved.slice(1).map((w) => Array.from(w.tensor.dataSync())),
      iterations: (saved[0].tensor.dataSync())[0],
    };
    optimizer.dispose();
    tf.dispose([...variables, x]);
    enableFastWasmKernels();
    return run;
  }

  it.each([
    [[0.01, 0.9, 0.999, 1e-7]], [[0.3, 0.5, 0.75, 1e-3]],
  ] as Array<[[number, number, number, number]]>)('gives bit for bit the weights and moments of tfjs\'s Adam (%j)', async (args) => {
    const before = getFastWasmKernelsStats().adam;
    const fused = await train(true, args);
    expect(getFastWasmKernelsStats().adam - before).toBe(6 * 4 + 1);
    const own = await train(false, args);
    expect(getFastWasmKernelsStats().adam - before).toBe(6 * 4 + 1);
    expect(fused.iterations).toBe(7);
    expect(fused).toEqual(own);
    // and training moved every weight
    expect(fused.weights[0]).not.toEqual(Array.from(tensor([37, 13], 7).dataSync()));
  });

  it('runs tfjs\'s own update on the cpu backend', async () => {
    await useBackend('cpu');
    try {
      const before = getFastWasmKernelsStats().adam;
      const v = tf.variable(tf.tensor1d([1, 2, 3]));
      const optimizer = tf.train.adam(0.1);
      tf.dispose(optimizer.minimize(() => tf.sum(tf.square(v)) as tf.Scalar) ?? []);
      expect(getFastWasmKernelsStats().adam).toBe(before);
      expect(Array.from(v.dataSync()).map((w) => Math.round(w * 1e5) / 1e5)).toEqual([0.9, 1.9, 2.9]);
      optimizer.dispose();
      v.dispose();
    } finally {
      await useBackend('wasm');
    }
  });

  it('trains a compiled model with model.fit and leaks nothing', async () => {
    const model = tfl.sequential({layers: [tfl.layers.dense({inputShape: [10], units: 7, activation: 'relu'}), tfl.layers.dense({units: 3})]});
    model.compile({optimizer: 'adam', loss: 'meanSquaredError'});
    const x = tensor([40, 10], 12);
    const y = tensor([40, 3], 13);
    const first = await model.fit(x, y, {batchSize: 8, epochs: 1, verbose: 0});
    const tensors = tf.memory().numTensors;
    const before = getFastWasmKernelsStats().adam;
    const later = await model.fit(x, y, {batchSize: 8, epochs: 20, verbose: 0});
    expect(getFastWasmKernelsStats().adam - before).toBe(20 * 5 * 4);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(later.history.loss[19] as number).toBeLessThan(first.history.loss[0] as number);
    model.dispose();
    tf.dispose([x, y]);
  });
});

describe('identity and casts to the same dtype share memory on wasm', () => {
  const dataIds = () => (tf.backend() as unknown as {numDataIds(): number}).numDataIds();

  it('give equal values, survive the input\'s disposal and free the memory with the last reference', () => {
    const ids0 = dataIds();
    const x = tensor([5, 7], 30);
    const values = Array.from(x.dataSync());
    const before = getFastWasmKernelsStats().copied;
    const clone = tf.clone(x);
    const same = tf.cast(x, 'float32');
    const intInput = tensor([3, 4], 31, 'int32');
    const ints = tf.cast(intInput, 'int32');
    expect(getFastWasmKernelsStats().copied - before).toBe(3);
    expect(dataIds()).toBe(ids0 + 2);  // x (shared by clone and same) and the int32 tensor
    x.dispose();
    expect(Array.from(clone.dataSync())).toEqual(values);
    expect(Array.from(same.dataSync())).toEqual(values);
    clone.dispose();
    expect(Array.from(same.dataSync())).toEqual(values);
    tf.dispose([same, ints]);
    expect(dataIds()).toBe(ids0 + 1);
    intInput.dispose();
    expect(dataIds()).toBe(ids0);
  });

  it('still convert between dtypes', () => {
    const before = getFastWasmKernelsStats().copied;
    expect(Array.from(read(tf.cast(tf.tensor1d([1.7, -2.5, 3]), 'int32')).data)).toEqual([1, -2, 3]);
    expect(Array.from(read(tf.cast(tf.tensor1d([1, -2, 3], 'int32'), 'float32')).data)).toEqual([1, -2, 3]);
    expect(getFastWasmKernelsStats().copied).toBe(before);
  });
});
