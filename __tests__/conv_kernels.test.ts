/**
 * The convolution gradients of src/perf/conv_kernels.ts on wasm:
 * `Conv2DBackpropFilter` (which tfjs-backend-wasm lacks) and the SIMD
 * `Conv2DBackpropInput`, against tfjs's cpu backend.
 *
 * Registration: the filter kernel exists on wasm only while the fast kernels
 * are on, only where the backend has none of its own, and only on the tested
 * tfjs versions; the input kernel is restored by `disableFastWasmKernels`.
 *
 * Randomized differential test (seeded, mulberry32, SEED below): CASES valid
 * cases per kernel — batches 0 to 3, images 1 to 9 pixels a side, channels 1
 * to 9 (most not multiples of 4), filters from 1×1 to the image's size and
 * beyond, strides 1 to 3, padding 'same', 'valid', a number or explicit
 * per-side pixels, `dimRoundingMode`, NHWC and NCHW; values uniform in
 * [-1, 1), and in one case in twenty a few NaN and ±Inf.
 *
 * Tolerance: the cpu kernels sum in float64, ours in float32 (in another
 * order for dx). Each result element must be within 1e-4 · M of the cpu
 * backend's, M the largest magnitude of the cpu result (a max-norm relative
 * error of 1e-4); a NaN or ±Inf of the cpu result must be the same NaN or
 * ±Inf. Invalid cases throw tfjs's error: the same as the cpu kernel where it
 * throws, tfjs-core's op's where only the op checks, and an error naming the
 * argument where the tfjs kernels would read past an operand.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {convKernelCalls, isOurConv2DBackpropFilter} from '../src/perf/conv_kernels';
import {
  disableFastWasmKernels,
  enableFastWasmKernels,
  isFastWasmKernelsActive,
} from '../src/perf';
import {_setTfjsVersionsForTests} from '../src/util/tfjs_version';
import {useBackend} from './helpers/backends';
import {mulberry32} from './helpers/random';

const SEED = 0xc0117;
const CASES = 2000;
const RTOL = 1e-4;

type Rng = () => number;
const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const chance = (rng: Rng, p: number) => rng() < p;

type Pad = 'same'|'valid'|number|tf.backend_util.ExplicitPadding;

interface Case {
  xShape: number[];
  filterShape: number[];
  dyShape: number[];
  strides: number|[number, number];
  pad: Pad;
  dataFormat: 'NHWC'|'NCHW';
  dimRoundingMode?: 'floor'|'round'|'ceil';
  x: Float32Array;
  filter: Float32Array;
  dy: Float32Array;
}

function values(rng: Rng, n: number, special: boolean): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    v[i] = special && chance(rng, 0.02) ? pick(rng, [NaN, Infinity, -Infinity]) : rng() * 2 - 1;
  }
  return v;
}

/** A random valid convolution (one whose output has at least one pixel a side). */
function randomCase(rng: Rng): Case {
  for (;;) {
    const dataFormat = chance(rng, 0.25) ? 'NCHW' : 'NHWC';
    const batch = pick(rng, [0, 1, 1, 1, 2, 2, 3]);
    const inH = int(rng, 1, 9);
    const inW = chance(rng, 0.3) ? inH : int(rng, 1, 9);
    const inC = pick(rng, [1, 1, 2, 3, 4, 5, 7, 8, 9]);
    const outC = pick(rng, [1, 1, 2, 3, 4, 5, 7, 8, 9]);
    // 1×1 filters, filters of the image's size, and sizes in between (or beyond, with padding).
    const size = (n: number) => pick(rng, [1, 1, n, n, int(rng, 1, Math.min(n + 2, 6))]);
    const fh = size(inH);
    const fw = size(inW);
    const strides: number|[number, number] = chance(rng, 0.5) ? int(rng, 1, 3) : [int(rng, 1, 3), int(rng, 1, 3)];
    let pad: Pad;
    let dimRoundingMode: Case['dimRoundingMode'];
    const kind = int(rng, 0, 3);
    if (kind === 0) {
      pad = 'same';
    } else if (kind === 1) {
      pad = 'valid';
    } else if (kind === 2) {
      pad = int(rng, 0, 2);
    } else {
      const t = int(rng, 0, 2), b = int(rng, 0, 2), l = int(rng, 0, 2), r = int(rng, 0, 2);
      pad = dataFormat === 'NHWC' ? [[0, 0], [t, b], [l, r], [0, 0]] : [[0, 0], [0, 0], [t, b], [l, r]];
    }
    if (kind >= 2 && chance(rng, 0.3)) dimRoundingMode = pick(rng, ['floor', 'round', 'ceil'] as const);
    const xShape = dataFormat === 'NHWC' ? [batch, inH, inW, inC] : [batch, inC, inH, inW];
    const filterShape = [fh, fw, inC, outC];
    const info = tf.backend_util.computeConv2DInfo(
        xShape as [number, number, number, number], filterShape as [number, number, number, number], strides, 1, pad,
        dimRoundingMode, false, dataFormat === 'NHWC' ? 'channelsLast' : 'channelsFirst');
    if (!(info.outHeight > 0 && info.outWidth > 0)) continue;
    const special = chance(rng, 0.05);
    return {
      xShape, filterShape, dyShape: info.outShape, strides, pad, dataFormat, dimRoundingMode,
      x: values(rng, tf.util.sizeFromShape(xShape), special),
      filter: values(rng, tf.util.sizeFromShape(filterShape), special),
      dy: values(rng, tf.util.sizeFromShape(info.outShape), special),
    };
  }
}

function describeCase(c: Case): string {
  return `x=[${c.xShape}] f=[${c.filterShape}] dy=[${c.dyShape}] s=${JSON.stringify(c.strides)} ` +
         `pad=${JSON.stringify(c.pad)} ${c.dataFormat}${c.dimRoundingMode ? ` ${c.dimRoundingMode}` : ''}`;
}

const attrs = (c: Case) => ({strides: c.strides, pad: c.pad, dataFormat: c.dataFormat, dimRoundingMode: c.dimRoundingMode});

function filterGradient(c: Case): tf.Tensor {
  return tf.engine().runKernel(tf.Conv2DBackpropFilter, {x: tf.tensor(c.x, c.xShape), dy: tf.tensor(c.dy, c.dyShape)},
                               {...attrs(c), filterShape: c.filterShape} as unknown as tf.NamedAttrMap) as tf.Tensor;
}

function inputGradient(c: Case): tf.Tensor {
  return tf.engine().runKernel(tf.Conv2DBackpropInput,
                               {dy: tf.tensor(c.dy, c.dyShape), filter: tf.tensor(c.filter, c.filterShape)},
                               {...attrs(c), inputShape: c.xShape} as unknown as tf.NamedAttrMap) as tf.Tensor;
}

interface Outcome {
  shape?: number[];
  values?: Float32Array;
  error?: string;
}

function outcome(fn: () => tf.Tensor): Outcome {
  try {
    const t = tf.tidy(fn);
    const result = {shape: t.shape, values: t.dataSync() as Float32Array};
    t.dispose();
    return result;
  } catch (e) {
    return {error: `${(e as Error).constructor.name}: ${(e as Error).message}`};
  }
}

async function onBackend<T>(name: string, fn: () => T): Promise<T> {
  await useBackend(name);
  return fn();
}

/** Differences beyond the tolerance (the first few described), and the largest relative error seen. */
function compare(cases: Case[], got: Outcome[], want: Outcome[]): {failures: string[]; count: number; worst: number} {
  const failures: string[] = [];
  let count = 0;
  let worst = 0;
  const fail = (message: string) => {
    count++;
    if (failures.length < 10) failures.push(message);
  };
  cases.forEach((c, k) => {
    const g = got[k];
    const w = want[k];
    if (g.error != null || w.error != null) {
      fail(`${describeCase(c)}: got ${g.error ?? 'a result'}, want ${w.error ?? 'a result'}`);
      return;
    }
    if (!tf.util.arraysEqual(g.shape!, w.shape!)) {
      fail(`${describeCase(c)}: shape [${g.shape}], want [${w.shape}]`);
      return;
    }
    let magnitude = 0;
    for (const v of w.values!) if (Number.isFinite(v)) magnitude = Math.max(magnitude, Math.abs(v));
    for (let i = 0; i < w.values!.length; i++) {
      const a = g.values![i];
      const b = w.values![i];
      if (!Number.isFinite(b)) {
        if (!Object.is(a, b)) {
          fail(`${describeCase(c)}: element ${i} is ${a}, want ${b}`);
          return;
        }
        continue;
      }
      const error = Math.abs(a - b);
      if (!(error <= RTOL * magnitude)) {
        fail(`${describeCase(c)}: element ${i} is ${a}, want ${b} (tolerance ${RTOL * magnitude})`);
        return;
      }
      if (magnitude > 0) worst = Math.max(worst, error / magnitude);
    }
  });
  return {failures, count, worst};
}

beforeAll(async () => {
  await useBackend('wasm');
  enableFastWasmKernels();
});

afterAll(() => {
  disableFastWasmKernels();
});

describe('registration', () => {
  test('Conv2DBackpropFilter exists on wasm only while the fast kernels are on; Conv2DBackpropInput is restored', () => {
    disableFastWasmKernels();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeUndefined();
    const tfjsInput = tf.getKernel(tf.Conv2DBackpropInput, 'wasm');
    enableFastWasmKernels();
    enableFastWasmKernels();  // idempotent
    expect(isOurConv2DBackpropFilter()).toBe(true);
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')).not.toBe(tfjsInput);
    expect(isFastWasmKernelsActive()).toBe(true);
    // Other backends keep their own kernels.
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'cpu')?.backendName).toBe('cpu');
    disableFastWasmKernels();
    disableFastWasmKernels();
    expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeUndefined();
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm')).toBe(tfjsInput);
    // Without our kernels the wasm backend cannot train a convolution: tfjs's own error.
    const x = tf.ones([1, 4, 4, 1]);
    const f = tf.ones([2, 2, 1, 1]);
    expect(() => tf.grad((w: tf.Tensor) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'valid'))(f))
        .toThrow(`Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'`);
    tf.dispose([x, f]);
    enableFastWasmKernels();
    expect(isOurConv2DBackpropFilter()).toBe(true);
  });

  test('a backend that has its own Conv2DBackpropFilter keeps it', () => {
    disableFastWasmKernels();
    const own: tf.KernelConfig = {
      kernelName: tf.Conv2DBackpropFilter,
      backendName: 'wasm',
      kernelFunc: () => {
        throw new Error('the backend\'s own kernel');
      },
    };
    tf.registerKernel(own);
    try {
      enableFastWasmKernels();
      expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBe(own);
      expect(isOurConv2DBackpropFilter()).toBe(false);
      disableFastWasmKernels();
      expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBe(own);
    } finally {
      tf.unregisterKernel(tf.Conv2DBackpropFilter, 'wasm');
    }
    enableFastWasmKernels();
    expect(isOurConv2DBackpropFilter()).toBe(true);
  });

  test('on an untested tfjs version nothing is registered', () => {
    const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      disableFastWasmKernels();
      _setTfjsVersionsForTests({core: '4.23.0', layers: '4.23.0'});
      expect(enableFastWasmKernels()).toBe(false);
      expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeUndefined();
    } finally {
      _setTfjsVersionsForTests(null);
      warn.mockRestore();
    }
    enableFastWasmKernels();
    expect(isOurConv2DBackpropFilter()).toBe(true);
  });
});

describe('differential test against the cpu backend', () => {
  const rng = mulberry32(SEED);
  const cases = Array.from({length: CASES}, () => randomCase(rng));

  test('the cases cover the edge cases', () => {
    const count = (p: (c: Case) => boolean) => cases.filter(p).length;
    const [fh, fw] = [(c: Case) => c.filterShape[0], (c: Case) => c.filterShape[1]];
    const inHW = (c: Case) => (c.dataFormat === 'NHWC' ? c.xShape.slice(1, 3) : c.xShape.slice(2, 4));
    expect(count((c) => fh(c) === 1 && fw(c) === 1)).toBeGreaterThan(50);
    expect(count((c) => fh(c) === inHW(c)[0] && fw(c) === inHW(c)[1])).toBeGreaterThan(50);
    expect(count((c) => c.dataFormat === 'NCHW')).toBeGreaterThan(300);
    expect(count((c) => c.xShape[0] === 0)).toBeGreaterThan(50);
    expect(count((c) => c.xShape[0] > 1)).toBeGreaterThan(500);
    expect(count((c) => c.filterShape[2] % 4 !== 0 && c.filterShape[3] % 4 !== 0)).toBeGreaterThan(500);
    expect(count((c) => Array.isArray(c.pad))).toBeGreaterThan(300);
    expect(count((c) => c.dimRoundingMode != null)).toBeGreaterThan(100);
    expect(count((c) => (Array.isArray(c.strides) ? c.strides : [c.strides]).some((s) => s > 1))).toBeGreaterThan(500);
    expect(count((c) => inHW(c).some((n) => n % 2 === 1))).toBeGreaterThan(500);
  });

  test(`Conv2DBackpropFilter: ${CASES} cases within ${RTOL} (max-norm relative) of cpu`, async () => {
    const want = await onBackend('cpu', () => cases.map((c) => outcome(() => filterGradient(c))));
    const before = {...convKernelCalls};
    const got = await onBackend('wasm', () => cases.map((c) => outcome(() => filterGradient(c))));
    const result = compare(cases, got, want);
    expect({failures: result.count, first: result.failures}).toEqual({failures: 0, first: []});
    // The SIMD path ran (the loop only for a non-finite dy with padding); errors stay far below the tolerance.
    expect(convKernelCalls.filterSimd - before.filterSimd).toBeGreaterThan(CASES * 0.8);
    // ... and the loop (the path without SIMD) for some tens of them, also within the tolerance.
    expect(convKernelCalls.filterLoop - before.filterLoop).toBeGreaterThan(20);
    expect(result.worst).toBeLessThan(RTOL / 10);
  });

  test(`Conv2DBackpropInput: ${CASES} cases within ${RTOL} (max-norm relative) of cpu`, async () => {
    const want = await onBackend('cpu', () => cases.map((c) => outcome(() => inputGradient(c))));
    const before = {...convKernelCalls};
    const got = await onBackend('wasm', () => cases.map((c) => outcome(() => inputGradient(c))));
    const result = compare(cases, got, want);
    expect({failures: result.count, first: result.failures}).toEqual({failures: 0, first: []});
    // Every case with a non-empty dx ran the SIMD path.
    expect(convKernelCalls.inputSimd - before.inputSimd).toBe(cases.filter((c) => c.xShape[0] > 0).length);
    expect(result.worst).toBeLessThan(RTOL / 10);
  });

  test('a dy larger than the output is read in its leading part, as the cpu kernels read it', async () => {
    const grow = mulberry32(SEED + 1);
    const larger = cases.filter((c) => c.xShape[0] > 0).slice(0, 200).map((c) => {
      const dyShape = c.dyShape.map((n, i) => (i === (c.dataFormat === 'NHWC' ? 3 : 1) ? n : n + int(grow, 0, 2)));
      return {...c, dyShape, dy: values(grow, tf.util.sizeFromShape(dyShape), false)};
    });
    const grown = larger.filter((c, k) => !tf.util.arraysEqual(c.dyShape, cases.filter((d) => d.xShape[0] > 0)[k].dyShape));
    expect(grown.length).toBeGreaterThan(150);
    for (const run of [filterGradient, inputGradient]) {
      const want = await onBackend('cpu', () => larger.map((c) => outcome(() => run(c))));
      const got = await onBackend('wasm', () => larger.map((c) => outcome(() => run(c))));
      const result = compare(larger, got, want);
      expect({failures: result.count, first: result.failures}).toEqual({failures: 0, first: []});
    }
  });

  test('the gradients of conv2d through tf.grads equal cpu\'s', async () => {
    const grads = (c: Case) => () => {
      const x = tf.tensor4d(c.x, c.xShape as [number, number, number, number]);
      const f = tf.tensor4d(c.filter, c.filterShape as [number, number, number, number]);
      const dy = tf.tensor(c.dy, c.dyShape);
      const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.strides, c.pad as 'same', 'NHWC', 1, c.dimRoundingMode), dy))(
          [x, f]);
      return tf.concat([tf.reshape(dx, [-1]), tf.reshape(df, [-1])]);
    };
    // The forward pass is the wasm backend's own Conv2D (NHWC only), which corrupts its heap for some numeric
    // paddings, with or without our kernels (x=[2,7,7,9] f=[4,1,9,5] s=2 pad=1; x=[3,4,8,1] f=[6,1,1,4] s=2 pad=2
    // 'round'): 'same' and 'valid' here (the kernels alone are tested with every padding above).
    const sub = cases.filter((c) => c.dataFormat === 'NHWC' && c.xShape[0] > 0 && typeof c.pad === 'string').slice(0, 200);
    const want = await onBackend('cpu', () => sub.map((c) => outcome(grads(c))));
    const got = await onBackend('wasm', () => sub.map((c) => outcome(grads(c))));
    const result = compare(sub, got, want);
    expect({failures: result.count, first: result.failures}).toEqual({failures: 0, first: []});
  });
});

describe('errors', () => {
  const good: Case = randomCase(mulberry32(7));
  const base = {...good, xShape: [2, 5, 6, 3], filterShape: [3, 2, 3, 4], dyShape: [2, 5, 6, 4], strides: 1, pad: 'same' as Pad,
                dataFormat: 'NHWC' as const, dimRoundingMode: undefined};
  const make = (c: Case) => ({
    ...c,
    x: new Float32Array(Math.max(0, tf.util.sizeFromShape(c.xShape))),
    dy: new Float32Array(Math.max(0, tf.util.sizeFromShape(c.dyShape))),
    filter: new Float32Array(Math.max(0, tf.util.sizeFromShape(c.filterShape))),
  });

  test('errors of backend_util.computeConv2DInfo are the cpu kernels\' own', async () => {
    const invalid = [
      make({...base, pad: 'full' as unknown as Pad}),
      // (tfjs-core's op reads the depths of any format but 'NHWC' at axis 1: shapes that pass there)
      make({...base, dataFormat: 'NCWH' as unknown as 'NHWC', xShape: [2, 3, 5, 3], dyShape: [2, 4, 5, 4]}),
    ];
    for (const run of [filterGradient, inputGradient]) {
      const want = await onBackend('cpu', () => invalid.map((c) => outcome(() => run(c))));
      const got = await onBackend('wasm', () => invalid.map((c) => outcome(() => run(c))));
      expect(want.every((o) => o.error != null)).toBe(true);
      expect(got.map((o) => o.error)).toEqual(want.map((o) => o.error));
    }
  });

  test('what only tfjs-core\'s ops check throws the op\'s error; what tfjs would read past throws one naming it', async () => {
    await useBackend('wasm');
    const tensors = tf.memory().numTensors;
    const dataIds = tf.engine().backend.numDataIds();
    const expectError = (run: (c: Case) => tf.Tensor, c: Case, message: string) => {
      expect(outcome(() => run(c)).error).toBe(`Error: ${message}`);
    };
    expectError(filterGradient, make({...base, xShape: [5, 6, 3]}), 'Error in conv2dDerFilter: input must be rank 4, but got shape 5,6,3.');
    expectError(filterGradient, make({...base, dyShape: [5, 6, 4]}), 'Error in conv2dDerFilter: dy must be rank 4, but got shape 5,6,4.');
    expectError(filterGradient, make({...base, filterShape: [3, 2, 4, 4]}),
                'Error in conv2dDerFilter: depth of input 3) must match input depth in filter (4.');
    expectError(filterGradient, make({...base, filterShape: [3, 2, 3, 5]}),
                'Error in conv2dDerFilter: depth of dy (4) must match output depth for filter (5).');
    expectError(filterGradient, make({...base, dimRoundingMode: 'floor'}),
                'Error in conv2dDerFilter: pad must be an integer when using dimRoundingMode floor but got pad same.');
    expectError(inputGradient, make({...base, filterShape: [3, 2, 4, 4]}),
                'Error in conv2dDerInput: depth of input (3) must match input depth for filter 4.');
    expectError(inputGradient, make({...base, filterShape: [3, 2, 3, 5]}),
                'Error in conv2dDerInput: depth of output (4) must match output depth for filter 5.');
    expectError(inputGradient, make({...base, filterShape: [3, 2, 3]}), 'Error in conv2dDerInput: filter must be rank 4, but got rank 3');
    expectError(inputGradient, make({...base, xShape: [5, 6, 3]}), 'Error in conv2dDerInput: inShape must be length 4, but got length 3.');
    for (const run of [filterGradient, inputGradient]) {
      const kernel = run === filterGradient ? tf.Conv2DBackpropFilter : tf.Conv2DBackpropInput;
      expectError(run, make({...base, dyShape: [2, 4, 6, 4]}),
                  `${kernel}: expected dy of the convolution's output shape [2,5,6,4] (or larger in some axes: tfjs ` +
                  `reads its leading part). Received: dy.shape=[2,4,6,4]`);
      expectError(run, make({...base, strides: 0}), `${kernel}: expected strides of positive integers. Received: strides=0`);
      expectError(run, make({...base, pad: 0.5, dyShape: [2, 4, 5, 4]}),
                  `${kernel}: expected a padding of whole pixels. Received: pad=0.5 (top 0.5, left 0.5, output 4×5)`);
    }
    // Nothing was allocated, nothing is left.
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
  });
});

describe('memory', () => {
  test('no tensor and no backend buffer is left by either kernel, in any path', async () => {
    await useBackend('wasm');
    const rng = mulberry32(11);
    const cases = Array.from({length: 50}, () => randomCase(rng));
    // Warm up (the module's instances), then count.
    tf.dispose([tf.tidy(() => filterGradient(cases[0])), tf.tidy(() => inputGradient(cases[0]))]);
    const tensors = tf.memory().numTensors;
    const dataIds = tf.engine().backend.numDataIds();
    const bytes = tf.memory().numBytes;
    for (const c of cases) {
      for (const run of [filterGradient, inputGradient]) tf.tidy(() => run(c)).dispose();
      // int32 inputs (cast to float32 by the filter kernel)
      tf.tidy(() => tf.engine().runKernel(tf.Conv2DBackpropFilter,
                                          {x: tf.tensor(c.x, c.xShape, 'int32'), dy: tf.tensor(c.dy, c.dyShape, 'int32')},
                                          {...attrs(c), filterShape: c.filterShape} as unknown as tf.NamedAttrMap) as tf.Tensor)
          .dispose();
    }
    expect(tf.memory().numTensors).toBe(tensors);
    expect(tf.engine().backend.numDataIds()).toBe(dataIds);
    expect(tf.memory().numBytes).toBe(bytes);
  });

  test('Conv2DBackpropInput of int32 operands is the wasm kernel\'s own (bit for bit)', async () => {
    await useBackend('wasm');
    const c = randomCase(mulberry32(9));
    const run = () => outcome(() => tf.engine().runKernel(
        tf.Conv2DBackpropInput, {dy: tf.tensor(c.dy, c.dyShape, 'int32'), filter: tf.tensor(c.filter, c.filterShape, 'int32')},
        {...attrs(c), inputShape: c.xShape} as unknown as tf.NamedAttrMap) as tf.Tensor);
    const before = convKernelCalls.inputPassedThrough;
    const ours = run();
    expect(convKernelCalls.inputPassedThrough).toBe(before + 1);
    disableFastWasmKernels();
    const tfjs = run();
    enableFastWasmKernels();
    expect(ours.error).toBeUndefined();
    expect(ours.shape).toEqual(tfjs.shape);
    expect(Array.from(ours.values!)).toEqual(Array.from(tfjs.values!));
  });

  test('int32 operands give the cpu backend\'s result', async () => {
    const c = randomCase(mulberry32(5));
    const ints = {x: Int32Array.from(c.x, (v) => Math.round(v * 5)), dy: Int32Array.from(c.dy, (v) => Math.round(v * 5))};
    const run = () => outcome(() => tf.engine().runKernel(
        tf.Conv2DBackpropFilter, {x: tf.tensor(ints.x, c.xShape, 'int32'), dy: tf.tensor(ints.dy, c.dyShape, 'int32')},
        {...attrs(c), filterShape: c.filterShape} as unknown as tf.NamedAttrMap) as tf.Tensor);
    const want = await onBackend('cpu', run);
    const got = await onBackend('wasm', run);
    expect(compare([c], [got], [want]).failures).toEqual([]);
  });
});

describe('training', () => {
  /** A small CNN from fixed weights: conv 3×3×4 same relu → maxPool 2 → conv 3×3×6 valid (stride 2) → flatten → dense 3 softmax. */
  function cnn(weights: tf.Tensor[]|null): tfl.LayersModel {
    const model = tfl.sequential({layers: [
      tfl.layers.conv2d({inputShape: [9, 9, 2], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu'}),
      tfl.layers.maxPooling2d({poolSize: 2}),
      tfl.layers.conv2d({filters: 6, kernelSize: 3, strides: 2, padding: 'same'}),
      tfl.layers.flatten(),
      tfl.layers.dense({units: 3, activation: 'softmax'}),
    ]});
    if (weights != null) model.setWeights(weights);
    model.compile({optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy'});
    return model;
  }

  test('model.fit of a CNN on wasm follows the cpu backend\'s losses and weights; nothing leaks', async () => {
    const rng = mulberry32(3);
    const xs = Float32Array.from({length: 16 * 9 * 9 * 2}, () => rng());
    const labels = Array.from({length: 16}, () => int(rng, 0, 2));
    await useBackend('cpu');
    const init = tf.tidy(() => cnn(null).getWeights().map((w) => w.arraySync()));
    const train = async () => {
      const weights = init.map((w) => tf.tensor(w as number[]));
      const model = cnn(weights);
      tf.dispose(weights);
      const x = tf.tensor4d(xs, [16, 9, 9, 2]);
      const y = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 3));
      const history = await model.fit(x, y, {epochs: 3, batchSize: 8, shuffle: false, verbose: 0});
      const final = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      (model.optimizer as tf.Optimizer).dispose();
      tf.dispose([x, y]);
      return {loss: history.history.loss as number[], final};
    };
    const cpu = await train();
    await useBackend('wasm');
    const tensors = tf.memory().numTensors;
    const calls = {...convKernelCalls};
    const wasm = await train();
    expect(tf.memory().numTensors).toBe(tensors);
    // 6 batches: one filter gradient per convolution, one input gradient (the second convolution's) per batch.
    expect(convKernelCalls.filterSimd - calls.filterSimd).toBe(12);
    expect(convKernelCalls.inputSimd - calls.inputSimd).toBe(6);
    for (let i = 0; i < cpu.loss.length; i++) expect(Math.abs(wasm.loss[i] - cpu.loss[i])).toBeLessThan(1e-4);
    cpu.final.forEach((w, i) => {
      const scale = Math.max(...w.map(Math.abs));
      w.forEach((v, j) => expect(Math.abs(wasm.final[i][j] - v)).toBeLessThanOrEqual(1e-4 * scale));
    });
  });
});
