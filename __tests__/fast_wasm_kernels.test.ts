/**
 * Fast products on wasm (src/perf/fast_wasm_kernels.ts): values and gradients equal
 * those of the backend's own kernels and of the cpu backend, other backends
 * keep their kernels, switching is idempotent, nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {
  FAST_WASM_KERNELS_FLAG,
  applyFastWasmKernelsDefault,
  disableFastWasmKernels,
  enableFastWasmKernels,
  getFastWasmKernelsStats,
  isFastWasmKernelsActive,
  isFastWasmKernelsEnabled,
} from '../src/perf';
import {NODE_BACKENDS, useBackend} from './helpers/backends';
import {values} from './helpers/values';

const RTOL = 1e-4;
const WRAPPED = [tf.BatchMatMul, tf._FusedMatMul, tf.GatherV2, tf.Slice, tf.Transpose, tf.Sum, tf.Softplus, tf.Identity, tf.Cast];

function tensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(values(tf.util.sizeFromShape(shape), seed), shape);
}

/** Runs `fn` once with the backend's own kernels and once with the fast ones; returns both results as arrays. */
function withAndWithout(fn: () => tf.Tensor[]): {plain: Float32Array[]; fast: Float32Array[]} {
  const run = () => tf.tidy(fn).map((t) => {
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
  disableFastWasmKernels();
  const plain = run();
  enableFastWasmKernels();
  const fast = run();
  return {plain, fast};
}

/** Runs `fn` on the cpu backend (the reference implementation), then returns to `backend`. */
async function onCpu(fn: () => tf.Tensor[], backend: string): Promise<Float32Array[]> {
  await useBackend('cpu');
  try {
    return tf.tidy(fn).map((t) => {
      const v = t.dataSync() as Float32Array;
      t.dispose();
      return v;
    });
  } finally {
    await useBackend(backend);
  }
}

/** Equal within `RTOL` relative to the largest magnitude of each reference array (float32 summation order differs). */
function expectSame(plain: Float32Array[], fast: Float32Array[]): void {
  expect(fast.length).toBe(plain.length);
  for (let j = 0; j < plain.length; j++) {
    expect(fast[j].length).toBe(plain[j].length);
    const scale = plain[j].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0);
    let worst = 0;
    for (let i = 0; i < plain[j].length; i++) {
      worst = Math.max(worst, Math.abs(fast[j][i] - plain[j][i]));
    }
    expect(worst / scale).toBeLessThanOrEqual(RTOL);
  }
}

interface Case {
  name: string;
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
  /** tfjs-core 4.22's matMul gradient does not reduce broadcast batch axes (on any backend): values only then. */
  gradients: boolean;
}

/** Every flag combination, sizes above and below the copy threshold, rank 3 with and without broadcasting. */
function cases(): Case[] {
  const out: Case[] = [];
  for (const transposeA of [false, true]) {
    for (const transposeB of [false, true]) {
      const shapeA = (batch: number[], m: number, k: number) => transposeA ? [...batch, k, m] : [...batch, m, k];
      const shapeB = (batch: number[], k: number, n: number) => transposeB ? [...batch, n, k] : [...batch, k, n];
      const flags = `transposeA=${transposeA} transposeB=${transposeB}`;
      out.push({name: `2-D 33x20 by 20x17, ${flags}`, a: shapeA([], 33, 20), b: shapeB([], 20, 17), transposeA, transposeB, gradients: true});
      out.push({name: `2-D 40x30 by 30x2, ${flags}`, a: shapeA([], 40, 30), b: shapeB([], 30, 2), transposeA, transposeB, gradients: true});
      out.push({name: `2-D 3x30 by 30x25, ${flags}`, a: shapeA([], 3, 30), b: shapeB([], 30, 25), transposeA, transposeB, gradients: true});
      out.push({name: `rank 3, batch 3 by 3, ${flags}`, a: shapeA([3], 9, 11), b: shapeB([3], 11, 7), transposeA, transposeB, gradients: true});
      out.push({name: `rank 3, batch 3 by 1, ${flags}`, a: shapeA([3], 9, 11), b: shapeB([1], 11, 7), transposeA, transposeB, gradients: false});
      out.push({name: `rank 3, batch 1 by 4, ${flags}`, a: shapeA([1], 9, 11), b: shapeB([4], 11, 7), transposeA, transposeB, gradients: false});
      out.push({name: `rank 4 by rank 2, ${flags}`, a: shapeA([2, 3], 6, 10), b: shapeB([], 10, 8), transposeA, transposeB, gradients: false});
    }
  }
  return out;
}

describe.each(NODE_BACKENDS)('fast matMul on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
    enableFastWasmKernels();
  });
  afterAll(() => enableFastWasmKernels());

  it.each(cases())('matMul value and gradients agree: $name', async ({a: shapeA, b: shapeB, transposeA, transposeB, gradients}) => {
    const fn = () => {
      const a = tensor(shapeA, 1);
      const b = tensor(shapeB, 2);
      const y = tf.matMul(a, b, transposeA, transposeB);
      if (!gradients) return [y];
      const w = tensor(y.shape, 3);
      const [da, db] = tf.grads((x: tf.Tensor, z: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, z, transposeA, transposeB), w)))([a, b]);
      return [y, da, db];
    };
    const {plain, fast} = withAndWithout(fn);
    expectSame(plain, fast);
    expectSame(await onCpu(fn, backend), fast);
  });

  // The wasm backend's own fused kernel is wrong whenever it cannot use
  // XNNPACK (a transpose flag or a batch above one with a bias or relu): the
  // reference is the cpu backend.
  it.each([
    ['linear', [1], [1]], ['relu', [1], [1]], ['relu', [3], [1]], ['relu6', [3], [3]], ['elu', [1], [2]],
    ['sigmoid', [2], [1]], ['leakyrelu', [1], [1]], ['prelu', [3], [1]], ['prelu', [1], [3]],
  ] as Array<[tf.fused.Activation, number[], number[]]>)(
      'fused matMul with bias and %s, batches %j by %j, every flag, agrees with cpu', async (activation, batchA, batchB) => {
        const fn = () => {
          const out: tf.Tensor[] = [];
          for (const transposeA of [false, true]) {
            for (const transposeB of [false, true]) {
              // A shared dimension above 48, the wasm loop's block size.
              const a = tensor(transposeA ? [...batchA, 60, 30] : [...batchA, 30, 60], 4);
              const b = tensor(transposeB ? [...batchB, 18, 60] : [...batchB, 60, 18], 5);
              const bias = tensor([18], 6);
              const preluActivationWeights = activation === 'prelu' ? tensor([18], 7) : undefined;
              out.push(tf.fused.matMul({a, b, transposeA, transposeB, bias, activation, preluActivationWeights, leakyreluAlpha: 0.3}));
            }
          }
          return out;
        };
        expectSame(await onCpu(fn, backend), withAndWithout(fn).fast);
      });

  it.each([[false, false], [true, false], [false, true], [true, true]])(
      'gradients of a linear fused matMul with bias agree (transposeA=%s, transposeB=%s)', async (transposeA, transposeB) => {
        // Inside a gradient tape tfjs fuses linear products only; its gradient is
        // a customGrad of transposed products (it does not reduce broadcast batch axes: 2-D here).
        const fn = () => {
          const a = tensor(transposeA ? [24, 30] : [30, 24], 8);
          const b = tensor(transposeB ? [18, 24] : [24, 18], 9);
          const bias = tensor([18], 10);
          const w = tensor([30, 18], 11);
          const f = (x: tf.Tensor, z: tf.Tensor, c: tf.Tensor) =>
            tf.sum(tf.mul(tf.fused.matMul({a: x, b: z, transposeA, transposeB, bias: c}), w));
          return tf.grads(f)([a, b, bias]);
        };
        const {plain, fast} = withAndWithout(fn);
        expectSame(plain, fast);
        expectSame(await onCpu(fn, backend), fast);
      });

  it.each([
    ['rows of a matrix', [7, 5], [4, 0, 6, 4], 0, 'float32'],
    ['axis 1 of rank 3', [3, 6, 4], [5, 1], 1, 'float32'],
    ['last axis, negative', [2, 3, 5], [0, 4, 2], -1, 'int32'],
    ['2-D indices of a vector', [9], [[1, 8], [0, 3]], 0, 'bool'],
  ] as Array<[string, number[], number[]|number[][], number, tf.DataType]>)(
      'gather of %s agrees', async (_, shape, indices, axis, dtype) => {
        const fn = () => {
          const values = tf.mul(tensor(shape, 12), 10);
          // (wasm's cast to bool keeps the low byte instead of 0/1: compare instead.)
          const x = dtype === 'bool' ? tf.greater(values, 0) : tf.cast(values, dtype);
          return [tf.cast(tf.gather(x, tf.tensor(indices, undefined, 'int32'), axis), 'float32')];
        };
        const {plain, fast} = withAndWithout(fn);
        expect(Array.from(fast[0])).toEqual(Array.from(plain[0]));
        expect(Array.from(fast[0])).toEqual(Array.from((await onCpu(fn, backend))[0]));
      });

  it('gather rejects an index out of range', () => {
    const x = tensor([4, 3], 13);
    expect(() => tf.gather(x, tf.tensor1d([1, 4], 'int32'))).toThrow(/index value 4/);
    x.dispose();
  });

  it.each([
    ['contiguous rows', [10, 6], [3, 0], [4, 6]],
    ['a block of a matrix', [10, 6], [2, 1], [5, 3]],
    ['rank 4', [3, 4, 5, 6], [1, 0, 2, 1], [2, 3, -1, 4]],
    ['rank 5', [2, 3, 2, 3, 4], [1, 1, 0, 1, 2], [1, 2, 2, 2, 2]],
    ['a vector', [11], [3], [5]],
    ['nothing', [4, 4], [1, 1], [0, 2]],
  ])('slice of %s agrees', async (_, shape, begin, size) => {
    const fn = () => [tf.slice(tensor(shape, 14), begin, size)];
    const {plain, fast} = withAndWithout(fn);
    expect(Array.from(fast[0])).toEqual(Array.from(plain[0]));
    expect(Array.from(fast[0])).toEqual(Array.from((await onCpu(fn, backend))[0]));
    // int32 and bool take the same path.
    const ints = () => [tf.cast(tf.slice(tf.cast(tf.mul(tensor(shape, 15), 9), 'int32'), begin, size), 'float32'),
                        tf.cast(tf.slice(tf.greater(tensor(shape, 16), 0), begin, size), 'float32')];
    const r = withAndWithout(ints);
    expect(r.fast.map((v) => Array.from(v))).toEqual(r.plain.map((v) => Array.from(v)));
  });

  it('gradients of a Dense model (fused bias + relu) agree', () => {
    const model = tfl.sequential({
      layers: [
        tfl.layers.dense({inputShape: [64], units: 48, activation: 'relu', kernelInitializer: 'glorotUniform'}),
        tfl.layers.dense({units: 2}),
        tfl.layers.dense({units: 48, activation: 'relu'}),
        tfl.layers.dense({units: 64}),
      ],
    });
    const x = tensor([32, 64], 8);
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const {plain, fast} = withAndWithout(() => {
      const forward = model.predict(x) as tf.Tensor;
      const loss = () => tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, x))) as tf.Scalar;
      const {value, grads} = tf.variableGrads(loss, variables);
      return [forward, value, ...variables.map((v) => grads[v.name])];
    });
    expect(plain.length).toBe(2 + 8);
    expectSame(plain, fast);
    model.dispose();
    x.dispose();
  });

  it('takes the fast paths on wasm only', () => {
    const before = getFastWasmKernelsStats();
    tf.tidy(() => {
      tf.matMul(tensor([40, 30], 9), tensor([40, 20], 10), true, false);  // transposed copy, SIMD product
      tf.matMul(tensor([3, 20, 30], 9), tensor([30, 20], 10));  // batch folded into rows, SIMD product
      tf.fused.matMul({a: tensor([1, 20, 30], 9), b: tensor([2, 30, 20], 10), bias: tensor([20], 11)});  // SIMD, per batch
      tf.fused.matMul({a: tensor([20, 30], 9), b: tensor([30, 20], 10), activation: 'sigmoid'});  // SIMD, then Sigmoid
      tf.gather(tensor([20, 3], 12), tf.tensor1d([2, 0], 'int32'));  // row copies
      tf.transpose(tensor([5, 7], 13));  // SIMD tiles
      tf.sum(tensor([6, 5], 14), 0);  // SIMD column sums
      tf.softplus(tensor([4], 15));  // SIMD
    });
    const after = getFastWasmKernelsStats();
    const counts = (['transposed', 'folded', 'unfused', 'simd', 'copied', 'passedThrough'] as const)
                       .map((key) => after[key] - before[key]);
    // simd: four products (the unfused one through BatchMatMul), the transpose, the sum and softplus.
    expect(counts).toEqual(backend === 'wasm' ? [1, 1, 1, 7, 1, 0] : [0, 0, 0, 0, 0, 0]);
  });

  it('leaks neither tensors nor backend data over many training steps', async () => {
    const model = tfl.sequential({
      layers: [tfl.layers.dense({inputShape: [40], units: 32, activation: 'relu'}), tfl.layers.dense({units: 40})],
    });
    const optimizer = tf.train.adam(1e-3);
    const x = tensor([16, 40], 11);
    const loss = () => tf.mean(tf.square(tf.sub(model.apply(x) as tf.Tensor, x))) as tf.Scalar;
    const step = () => tf.dispose(optimizer.minimize(loss, true) ?? []);
    const dataIds = () => (tf.backend() as unknown as {numDataIds(): number}).numDataIds();
    step();
    step();
    const y = tensor([48, 40], 12);
    const compiled = tfl.sequential({layers: [tfl.layers.dense({inputShape: [40], units: 8}), tfl.layers.dense({units: 40})]});
    compiled.compile({optimizer: 'adam', loss: 'meanSquaredError'});
    await compiled.fit(y, y, {batchSize: 16, epochs: 1});
    const tensors0 = tf.memory().numTensors;
    const ids0 = dataIds();
    for (let i = 0; i < 50; i++) {
      step();
      tf.dispose(tf.tidy(() => [
        tf.matMul(tensor([3, 20, 9], i), tensor([1, 20, 9], i + 1), false, true),
        tf.fused.matMul({a: tensor([1, 6, 20], i), b: tensor([2, 20, 5], i), bias: tensor([5], i), activation: 'relu'}),
        tf.slice(x, [1, 2], [5, 6]),
      ]));
    }
    await compiled.fit(y, y, {batchSize: 16, epochs: 3});
    expect(tf.memory().numTensors).toBe(tensors0);
    expect(dataIds()).toBe(ids0);
    model.dispose();
    compiled.dispose();
    optimizer.dispose();
    tf.dispose([x, y]);
  });
});

describe('switching fast matMul', () => {
  beforeAll(async () => useBackend('wasm'));
  afterAll(() => enableFastWasmKernels());

  it('wraps only the wasm kernels and restores the very same objects', () => {
    disableFastWasmKernels();
    const wasmOwn = WRAPPED.map((name) => tf.getKernel(name, 'wasm'));
    const cpuOwn = WRAPPED.map((name) => tf.getKernel(name, 'cpu'));
    expect(isFastWasmKernelsEnabled()).toBe(false);
    expect(isFastWasmKernelsActive()).toBe(false);

    expect(enableFastWasmKernels()).toBe(true);
    const wrapped = WRAPPED.map((name) => tf.getKernel(name, 'wasm'));
    expect(isFastWasmKernelsEnabled()).toBe(true);
    expect(isFastWasmKernelsActive()).toBe(true);
    wrapped.forEach((k, i) => expect(k).not.toBe(wasmOwn[i]));
    WRAPPED.forEach((name, i) => expect(tf.getKernel(name, 'cpu')).toBe(cpuOwn[i]));
    // The wrapper keeps the original's setup, so a re-initialised backend still works.
    wrapped.forEach((k, i) => expect(k.setupFunc).toBe(wasmOwn[i].setupFunc));

    // Idempotent: a second enable changes nothing, a second disable neither.
    expect(enableFastWasmKernels()).toBe(true);
    WRAPPED.forEach((name, i) => expect(tf.getKernel(name, 'wasm')).toBe(wrapped[i]));
    disableFastWasmKernels();
    disableFastWasmKernels();
    WRAPPED.forEach((name, i) => expect(tf.getKernel(name, 'wasm')).toBe(wasmOwn[i]));
    WRAPPED.forEach((name, i) => expect(tf.getKernel(name, 'cpu')).toBe(cpuOwn[i]));
    enableFastWasmKernels();
  });

  it('follows the tf.env() flag, and the flag follows the functions', () => {
    enableFastWasmKernels();
    expect(tf.env().getBool(FAST_WASM_KERNELS_FLAG)).toBe(true);
    tf.env().set(FAST_WASM_KERNELS_FLAG, false);
    expect(isFastWasmKernelsEnabled()).toBe(false);
    expect(isFastWasmKernelsActive()).toBe(false);
    // The package-import default respects a flag set to false beforehand.
    applyFastWasmKernelsDefault();
    expect(isFastWasmKernelsEnabled()).toBe(false);
    tf.env().set(FAST_WASM_KERNELS_FLAG, true);
    expect(isFastWasmKernelsActive()).toBe(true);
    disableFastWasmKernels();
    expect(tf.env().getBool(FAST_WASM_KERNELS_FLAG)).toBe(false);
    enableFastWasmKernels();
    expect(tf.env().getBool(FAST_WASM_KERNELS_FLAG)).toBe(true);
  });

  it('wraps kernels registered after enabling once the wasm backend is set', async () => {
    disableFastWasmKernels();
    // As if the wasm package were imported after this library: its kernels are absent...
    const own = WRAPPED.map((name) => tf.getKernel(name, 'wasm'));
    WRAPPED.forEach((name) => tf.unregisterKernel(name, 'wasm'));
    try {
      expect(enableFastWasmKernels()).toBe(false);
      expect(isFastWasmKernelsEnabled()).toBe(true);
      expect(isFastWasmKernelsActive()).toBe(false);
    } finally {
      // ...then registered, and the backend selected.
      own.forEach((config) => tf.registerKernel(config));
    }
    expect(isFastWasmKernelsActive()).toBe(false);
    await useBackend('cpu');
    expect(isFastWasmKernelsActive()).toBe(false);
    await useBackend('wasm');
    expect(isFastWasmKernelsActive()).toBe(true);
    const a = tensor([30, 25], 12);
    const b = tensor([30, 20], 13);
    const before = getFastWasmKernelsStats().transposed;
    tf.dispose(tf.matMul(a, b, true, false));
    expect(getFastWasmKernelsStats().transposed).toBe(before + 1);
    tf.dispose([a, b]);
  });
});

/**
 * Regression tests of the conformance faults (each failed before the fix):
 * the fast kernels validate what tfjs's kernels and ops validate, throw
 * tfjs's errors, and never read outside their operands.
 */
describe('fast kernels validate as tfjs does (wasm)', () => {
  const INNER_3_4 = 'Error in matMul: inner shapes (3) and (4) of Tensors with shapes 2,3 and 4,2 and ' +
      'transposeA=false and transposeB=false must match.';
  beforeAll(async () => {
    await useBackend('wasm');
    enableFastWasmKernels();
  });
  afterAll(() => enableFastWasmKernels());

  /** The error `fn` throws (class and message), or null. */
  function errorOf(fn: () => unknown): string|null {
    try {
      tf.dispose(tf.tidy(fn as () => tf.Tensor));
      return null;
    } catch (e) {
      return `${(e as Error).constructor.name}: ${(e as Error).message}`;
    }
  }

  it('matMul with inner dimensions 3 and 4 throws tfjs\'s error (it returned [0, 8, -3, 20])', () => {
    const fn = () => tf.matMul(tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]), tf.tensor2d([0, 1, -3, 2, 2, 1, 2, 2], [4, 2]));
    expect(errorOf(fn)).toBe(`Error: ${INNER_3_4}`);
    disableFastWasmKernels();
    expect(errorOf(fn)).toBe(`Error: ${INNER_3_4}`);
    enableFastWasmKernels();
  });

  it('matMul of [1, 64] by [2, 1] throws instead of reading the tensor after b (it returned 48003)', () => {
    const a = tf.ones([1, 64]);
    const b = tf.tensor2d([1, 2], [2, 1]);
    const after = tf.fill([1024], 1000);
    expect(errorOf(() => tf.matMul(a, b))).toMatch(/inner shapes \(64\) and \(2\)/);
    expect(errorOf(() => tf.matMul(a, b, false, true))).toMatch(/inner shapes \(64\) and \(1\)/);
    tf.dispose([a, b, after]);
  });

  it('every flag combination with mismatched inner dimensions throws (the specs "A x B^t shapes do not match" and others)', () => {
    for (const [ta, tb, shapeB] of [[false, true, [3, 2]], [true, false, [3, 2]], [true, true, [2, 3]]] as const) {
      expect(errorOf(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([...shapeB]), ta, tb))).toMatch(
          /^Error: Error in matMul: inner shapes \([23]\) and \([23]\)/);
    }
    expect(errorOf(() => tf.matMul(tf.zeros([2, 3, 2]), tf.zeros([4, 2])))).toMatch(/inner shapes \(2\) and \(4\)/);
    expect(errorOf(() => tf.matMul(tf.zeros([2, 4, 3]), tf.zeros([3, 3, 2])))).toBe(
        'Error: Operands could not be broadcast together with shapes 2 and 3.');
  });

  it('runKernel(_FusedMatMul) with mismatched shapes throws the fused op\'s errors (it returned a result)', () => {
    const run = (a: tf.Tensor, b: tf.Tensor, extra: tf.NamedTensorMap = {}, activation = 'linear') =>
        () => tf.engine().runKernel(tf._FusedMatMul, {a, b, ...extra}, {transposeA: false, transposeB: false, activation});
    const a = tf.ones([1, 2, 3]);
    expect(errorOf(run(a, tf.ones([1, 4, 2])))).toBe(
        'Error: Error in fused matMul: inner shapes (3) and (4) of Tensors with shapes 1,2,3 and 1,4,2 and ' +
        'transposeA=false and transposeB=false must match.');
    expect(errorOf(run(tf.ones([2, 2, 3]), tf.ones([3, 3, 2])))).toBe(
        'Error: Operands could not be broadcast together with shapes 2 and 3.');
    // A bias of 3 values for 2 columns: the wasm kernel read bias[0..1] of it and past it.
    expect(errorOf(run(a, tf.ones([1, 3, 2]), {bias: tf.ones([3])}))).toBe(
        'Error: Operands could not be broadcast together with shapes 1,2,2 and 3.');
    expect(errorOf(run(a, tf.ones([1, 3, 2]), {}, 'prelu'))).toMatch(/'prelu' needs the input preluActivationWeights/);
    // An activation the wasm kernel does not know: its own error.
    expect(errorOf(run(a, tf.ones([1, 3, 2]), {}, 'swish'))).toMatch(/swish activation not yet supported/);
    a.dispose();
  });

  it('fused prelu with one weight per row equals cpu (the wasm kernel applied them modulo their size)', () => {
    const run = (w: tf.Tensor) => tf.fused.matMul({
      a: tf.tensor3d([[[-1, 2], [-3, 1], [1, -1]]]), b: tf.tensor3d([[[1, 0, 2], [0, 1, -1]]]),
      activation: 'prelu', preluActivationWeights: w,
    });
    const y = run(tf.tensor2d([[0.1], [0.2], [0.3]]));
    // x = [[-1, 2, -4], [-3, 1, -7], [1, -1, 3]], each negative value times its row's weight.
    expect(Array.from(y.dataSync())).toEqual(Array.from(Float32Array.of(
        Math.fround(0.1) * -1, 2, Math.fround(0.1) * -4, Math.fround(0.2) * -3, 1, Math.fround(0.2) * -7, 1,
        Math.fround(0.3) * -1, 3)));
    // Weights that do not broadcast to the output: the cpu kernel's error.
    expect(errorOf(() => run(tf.tensor1d([0.5, 0.25])))).toBe(
        'Error: Operands could not be broadcast together with shapes 1,3,3 and 2.');
  });

  it('runKernel(TfvAdamUpdate), our own kernel, checks its operands (it read value.size elements of each)', () => {
    const v = tf.ones([4, 4]);
    const s = tf.scalar(0.1);
    const attrs = {beta1: 0.9, beta2: 0.999, epsilon: 1e-7, learningRate: 0.01};
    const run = (inputs: tf.NamedTensorMap, a: tf.NamedAttrMap = attrs) => () =>
        tf.engine().runKernel('TfvAdamUpdate', {gradient: v, firstMoment: v, secondMoment: v, value: v,
                                                oneMinusAccBeta1: s, oneMinusAccBeta2: s, ...inputs}, a);
    expect(errorOf(run({gradient: tf.ones([2])}))).toBe(
        "Error: TfvAdamUpdate: expected the input gradient, float32 of value's shape [4,4]; received float32 of shape [2]");
    expect(errorOf(run({secondMoment: tf.ones([4, 4], 'int32')}))).toMatch(/input secondMoment.*received int32 of shape \[4,4\]/);
    expect(errorOf(run({oneMinusAccBeta2: tf.ones([3])}))).toMatch(/input oneMinusAccBeta2, a float32 scalar; received float32 of shape \[3\]/);
    expect(errorOf(run({}, {...attrs, epsilon: 'small'}))).toMatch(/attribute epsilon, a number; received small/);
    expect(errorOf(run({}))).toBeNull();
    tf.dispose([v, s]);
  });

  it('runKernel(_FusedMatMul) leakyrelu without an alpha uses 0, as the wasm kernel does', () => {
    const out = tf.engine().runKernel(tf._FusedMatMul, {a: tf.tensor3d([[[-1, 2]]]), b: tf.tensor3d([[[1], [-2]]])},
                                      {transposeA: false, transposeB: false, activation: 'leakyrelu'}) as tf.Tensor;
    expect(Array.from(out.dataSync())).toEqual([-0]);
  });

  it('runKernel(Slice) past the end throws the cpu kernel\'s error instead of reading the heap after x', () => {
    const x = tf.tensor2d([1, 2, 3, 4], [2, 2]);
    const after = tf.fill([64], 1000);
    expect(errorOf(() => tf.engine().runKernel(tf.Slice, {x}, {begin: [1, 0], size: [2, 2]}))).toBe(
        'Error: Error in slice2D: begin[0] + size[0] (3) would overflow input.shape[0] (2)');
    expect(errorOf(() => tf.slice(x, [0, 1], [2, 3]))).toBe(
        'Error: Error in slice2D: begin[1] + size[1] (4) would overflow input.shape[1] (2)');
    expect(errorOf(() => tf.engine().runKernel(tf.Slice, {x}, {begin: [0, 0, 0], size: [1, 1, 1]}))).toMatch(
        /Length of begin 0,0,0 must match the rank of the array \(2\)/);
    tf.dispose([x, after]);
  });

  it('a slice of a scalar is the scalar (it read the element after it)', () => {
    const x = tf.scalar(2.5);
    const after = tf.fill([4], 1000);
    const y = tf.engine().runKernel(tf.Slice, {x}, {begin: [], size: []}) as tf.Tensor;
    expect(y.shape).toEqual([]);
    expect(Array.from(y.dataSync())).toEqual([2.5]);
    tf.dispose([x, after, y]);
  });

  it('runKernel(GatherV2) with an index or axis out of range throws tfjs\'s error', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [3, 2]);
    const gather = (values: number[], axis = 0) =>
        () => tf.engine().runKernel(tf.GatherV2, {x, indices: tf.tensor1d(values, 'int32')}, {axis, batchDims: 0});
    expect(errorOf(gather([0, 3]))).toBe('Error: GatherV2: the index value 3 is not in [0, 2]');
    expect(errorOf(gather([-1]))).toBe('Error: GatherV2: the index value -1 is not in [0, 2]');
    expect(errorOf(gather([0], 2))).toBe('Error: All values in axis param must be in range [-2, 2) but got axis 2');
    x.dispose();
  });

  it('empty tensors: Sum is zeros, GatherV2 has the gather\'s shape, Transpose does not trap', () => {
    const sum = tf.sum(tf.zeros([3, 0]), 1);
    expect(sum.shape).toEqual([3]);
    expect(Array.from(sum.dataSync())).toEqual([0, 0, 0]);
    expect(Array.from(tf.sum(tf.zeros([0, 4], 'int32'), 0).dataSync())).toEqual([0, 0, 0, 0]);
    expect(Array.from(tf.sum(tf.zeros([0])).dataSync())).toEqual([0]);
    expect(tf.gather(tf.zeros([3, 0, 4]), tf.tensor1d([0, 2], 'int32'), 0).shape).toEqual([2, 0, 4]);
    expect(tf.transpose(tf.zeros([0, 9, 4]), [0, 2, 1]).shape).toEqual([0, 4, 9]);
    expect(tf.transpose(tf.zeros([2, 0, 3], 'bool'), [2, 0, 1]).shape).toEqual([3, 2, 0]);
  });

  it('runKernel(Sum) with repeated axes is the wasm kernel\'s result (they were deduplicated)', () => {
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const run = () => [tf.engine().runKernel(tf.Sum, {x}, {axis: [0, 0], keepDims: false}) as tf.Tensor];
    const {plain, fast} = withAndWithout(run);
    expect(Array.from(fast[0])).toEqual(Array.from(plain[0]));
    x.dispose();
  });
});
