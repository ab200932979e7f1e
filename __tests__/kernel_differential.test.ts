/**
 * Randomized differential test of every kernel src/perf replaces on wasm
 * (BatchMatMul, _FusedMatMul, GatherV2, Slice, Transpose, Sum, Softplus,
 * Identity, Cast) and of the fused Adam update, against tfjs's cpu backend
 * and the wasm backend with our kernels off. Seeded (mulberry32, SEED below):
 * every run draws the same cases.
 *
 * Each kernel gets at least CASES valid cases — random shapes with 0- and
 * 1-sized and odd dimensions, broadcast batches, every transpose flag, bias
 * and activation combinations, NaN and ±Inf among the values — and a few
 * hundred invalid ones, which must throw the error (class and message)
 * tfjs's own kernels or ops throw.
 *
 * Tolerances:
 * - transpose, gather, slice, identity, cast, Adam: bit for bit (`Object.is`
 *   per element: NaN matches NaN, -0 does not match 0).
 * - products: float32 summation of k terms has an error of at most
 *   γ(k) = k·u/(1 − k·u) times the sum of the terms' magnitudes (u = 2⁻²⁴;
 *   Higham, Accuracy and Stability of Numerical Algorithms, §3.1). Ours and
 *   the reference each stay within it, so they differ by at most
 *   2·γ(k + 2)·(Σ|a·b| + |bias|) (bias and activation add a term); the
 *   smooth activations (elu, sigmoid: slope ≤ 1) add their own float32
 *   rounding, 4 ulps plus 2⁻²² absolute (exp(x) − 1 near 0).
 * - sums: the same bound with k = the number of summed elements.
 * - softplus: the kernel claims 2 float32 ulps of the exact value; cpu
 *   computes x for x > 13.9 and exp(x) below −13.9 (relative error below
 *   exp(−13.9)/2 ≈ 5e-7), so ours and cpu differ by at most 2e-6 relatively;
 *   results below the smallest normal float32 may flush to 0 (1.2e-38).
 *   Against float64's log1p(exp(x)): 3 ulps.
 * NaN and ±Inf results must match in kind exactly.
 */
import * as tf from '@tensorflow/tfjs-core';

import {_setSimdProductDisabled, disableFastWasmKernels, enableFastWasmKernels, getFastWasmKernelsStats} from '../src/perf/fast_wasm_kernels';
import {useBackend} from './helpers/backends';
import {mulberry32} from './helpers/random';

const SEED = 0x5eed2024;
/** Valid cases per kernel. */
const CASES = 2000;

// ---------------------------------------------------------------- random numbers

type Rng = () => number;

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];
const chance = (rng: Rng, p: number) => rng() < p;
/** Sizes of one dimension: 0 and 1 often, odd sizes, SIMD widths and one past them. */
const DIMS = [0, 1, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17] as const;
const dim = (rng: Rng) => pick(rng, DIMS);
const SPECIALS = [NaN, Infinity, -Infinity, -0, 0] as const;

/** Float32 values in [-4, 4); with `special` > 0 that share of them is NaN, ±Inf or ±0. */
function floats(rng: Rng, n: number, special = 0): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = chance(rng, special) ? pick(rng, SPECIALS) : rng() * 8 - 4;
  return v;
}

function permutation(rng: Rng, n: number): number[] {
  const p = Array.from({length: n}, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = int(rng, 0, i);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

// ---------------------------------------------------------------- tensors and outcomes

type DType = 'float32'|'int32'|'bool';

/** A tensor to create on each backend. */
interface Spec {
  shape: number[];
  dtype: DType;
  values: Float32Array|Int32Array|Uint8Array;
}

function spec(rng: Rng, shape: number[], dtype: DType = 'float32', special = 0): Spec {
  const n = tf.util.sizeFromShape(shape);
  if (dtype === 'float32') return {shape, dtype, values: floats(rng, n, special)};
  if (dtype === 'int32') return {shape, dtype, values: Int32Array.from({length: n}, () => int(rng, -1000, 1000))};
  return {shape, dtype, values: Uint8Array.from({length: n}, () => int(rng, 0, 1))};
}

function make(s: Spec): tf.Tensor {
  return tf.tensor(s.values, s.shape, s.dtype);
}

interface Outcome {
  shape?: number[];
  dtype?: string;
  values?: Float32Array|Int32Array|Uint8Array;
  error?: string;
}

function outcome(fn: () => tf.Tensor|tf.Tensor[]): Outcome {
  try {
    const out = tf.tidy(fn);
    const t = Array.isArray(out) ? out[0] : out;
    const result = {shape: t.shape, dtype: t.dtype, values: t.dataSync() as Float32Array|Int32Array|Uint8Array};
    tf.dispose(out);
    return result;
  } catch (e) {
    return {error: `${(e as Error).constructor.name}: ${(e as Error).message}`};
  }
}

type Mode = 'cpu'|'wasm-off'|'wasm-on'|'wasm-on-xnnpack';

async function setMode(mode: Mode): Promise<void> {
  _setSimdProductDisabled(mode === 'wasm-on-xnnpack');
  if (mode === 'cpu') {
    await useBackend('cpu');
    return;
  }
  await useBackend('wasm');
  if (mode === 'wasm-off') {
    disableFastWasmKernels();
  } else {
    enableFastWasmKernels();
  }
}

/** Runs every case on each mode; outcomes by mode. Also returns the SIMD counter's increase on `wasm-on`. */
async function runAll<C>(cases: C[], run: (c: C) => tf.Tensor|tf.Tensor[], modes: Mode[]):
    Promise<{by: Record<string, Outcome[]>; simdCalls: number}> {
  const by: Record<string, Outcome[]> = {};
  let simdCalls = 0;
  for (const mode of modes) {
    await setMode(mode);
    const before = getFastWasmKernelsStats().simd;
    by[mode] = cases.map((c) => outcome(() => run(c)));
    if (mode === 'wasm-on') simdCalls = getFastWasmKernelsStats().simd - before;
  }
  await setMode('wasm-on');
  return {by, simdCalls};
}

/** Collects failures (the first few with details) so that one expectation reports them. */
class Failures {
  readonly list: string[] = [];
  count = 0;
  add(message: string): void {
    this.count++;
    if (this.list.length < 12) this.list.push(message);
  }
  expectNone(): void {
    expect({failures: this.count, first: this.list}).toEqual({failures: 0, first: []});
  }
}

/** Same shape and every element the same value (`Object.is`). */
function sameBits(f: Failures, label: string, got: Outcome, want: Outcome): void {
  if (want.error != null || got.error != null) {
    if (got.error !== want.error) f.add(`${label}: got ${got.error ?? 'a result'}, want ${want.error ?? 'a result'}`);
    return;
  }
  if (!tf.util.arraysEqual(got.shape!, want.shape!) || got.dtype !== want.dtype) {
    f.add(`${label}: shape ${got.shape} ${got.dtype}, want ${want.shape} ${want.dtype}`);
    return;
  }
  for (let i = 0; i < want.values!.length; i++) {
    if (!Object.is(got.values![i], want.values![i])) {
      f.add(`${label}: element ${i} is ${got.values![i]}, want ${want.values![i]}`);
      return;
    }
  }
}

/** Within `tolerance(i)` of `want`, NaN and ±Inf in the same places. */
function close(f: Failures, label: string, got: Outcome, want: Outcome, tolerance: (i: number) => number): void {
  if (want.error != null || got.error != null) {
    if (got.error !== want.error) f.add(`${label}: got ${got.error ?? 'a result'}, want ${want.error ?? 'a result'}`);
    return;
  }
  if (!tf.util.arraysEqual(got.shape!, want.shape!) || got.dtype !== want.dtype) {
    f.add(`${label}: shape ${got.shape} ${got.dtype}, want ${want.shape} ${want.dtype}`);
    return;
  }
  for (let i = 0; i < want.values!.length; i++) {
    const g = got.values![i];
    const w = want.values![i];
    const ok = Number.isFinite(w) ? Math.abs(g - w) <= tolerance(i) : Object.is(g, w);
    if (!ok) {
      f.add(`${label}: element ${i} is ${g}, want ${w} (tolerance ${tolerance(i)})`);
      return;
    }
  }
}

const U = 2 ** -24;
const gamma = (k: number) => (k * U) / (1 - k * U);
const ULP = 2 ** -23;

/**
 * What tfjs's wasm kernels make of NaN under a clamp: XNNPACK's relu6 (the
 * wasm Relu6 kernel) and the relu of its fused product do not propagate NaN
 * (tfjs-backend-wasm's own spec set-up skips clip's NaN specs for that
 * reason); cpu does. Where ours uses those kernels, either is accepted.
 */
const wasmNaN = {relu6: NaN, relu: NaN, fusedRelu: NaN};

let started = 0;
beforeAll(async () => {
  started = Date.now();
  await useBackend('wasm');
  disableFastWasmKernels();
  wasmNaN.relu6 = tf.relu6(tf.scalar(NaN)).dataSync()[0];
  wasmNaN.relu = tf.relu(tf.tensor1d([NaN, NaN, NaN, NaN, NaN])).dataSync()[4];
  wasmNaN.fusedRelu = tf.fused.matMul({a: tf.tensor2d([[NaN]]), b: tf.tensor2d([[1]]), activation: 'relu'}).dataSync()[0];
  enableFastWasmKernels();
});
afterAll(async () => {
  _setSimdProductDisabled(false);
  await setMode('wasm-on');
  // The run time, for docs/performance.md (no assertion on it).
  console.log(`kernel_differential: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

// ---------------------------------------------------------------- products

interface ProductCase {
  a: Spec;
  b: Spec;
  transposeA: boolean;
  transposeB: boolean;
  bias?: Spec;
  activation?: string;
  prelu?: Spec;
  leakyreluAlpha?: number;
  /** Through tfjs-core's op instead of runKernel. */
  viaOp: boolean;
}

/** Batch shapes that broadcast: equal, one of them absent or all ones, ones here and there, different ranks. */
function batchShapes(rng: Rng): [number[], number[]] {
  const rank = int(rng, 0, 2);
  const out = Array.from({length: rank}, () => pick(rng, [1, 2, 3]));
  const side = (): number[] => {
    const r = int(rng, 0, rank);
    return out.slice(rank - r).map((d) => (chance(rng, 0.3) ? 1 : d));
  };
  switch (int(rng, 0, 3)) {
    case 0: return [out, out.slice()];
    case 1: return [out, side()];
    case 2: return [side(), out];
    default: return [side(), side()];
  }
}

function productCase(rng: Rng, fused: boolean): ProductCase {
  const [batchA, batchB] = batchShapes(rng);
  const m = dim(rng);
  const k = dim(rng);
  const n = dim(rng);
  const transposeA = chance(rng, 0.5);
  const transposeB = chance(rng, 0.5);
  const special = chance(rng, 0.25) ? 0.05 : 0;
  const c: ProductCase = {
    a: spec(rng, [...batchA, ...(transposeA ? [k, m] : [m, k])], 'float32', special),
    b: spec(rng, [...batchB, ...(transposeB ? [n, k] : [k, n])], 'float32', special),
    transposeA, transposeB, viaOp: chance(rng, 0.3),
  };
  if (fused) {
    const outRank = Math.max(batchA.length, batchB.length) + 2;
    const biasShape = pick(rng, [null, null, [n], [n], [1, n], [m, n], [1], [1, 1, n]]);
    if (biasShape != null && biasShape.length <= Math.max(outRank, 3)) c.bias = spec(rng, biasShape, 'float32', special);
    c.activation = pick(rng, ['linear', 'linear', 'relu', 'relu', 'relu6', 'elu', 'sigmoid', 'leakyrelu', 'prelu']);
    if (c.activation === 'leakyrelu') c.leakyreluAlpha = Math.fround(rng());
    // prelu weights per column, one for all, or per row (which the wasm Prelu kernel would apply modulo their size)
    if (c.activation === 'prelu') c.prelu = spec(rng, pick(rng, [[n], [1, n], [1], [m, 1]]), 'float32', 0);
    // The op hands the kernel rank-3 operands; runKernel is also called with rank 2 to 4.
  }
  return c;
}

function runProduct(c: ProductCase, fused: boolean): tf.Tensor {
  const a = make(c.a);
  const b = make(c.b);
  if (!fused) {
    return c.viaOp ? tf.matMul(a, b, c.transposeA, c.transposeB) :
                     tf.engine().runKernel(tf.BatchMatMul, {a, b}, {transposeA: c.transposeA, transposeB: c.transposeB}) as tf.Tensor;
  }
  const bias = c.bias == null ? undefined : make(c.bias);
  const prelu = c.prelu == null ? undefined : make(c.prelu);
  const activation = (c.activation ?? 'linear') as 'linear';
  if (c.viaOp) {
    return tf.fused.matMul({a, b, transposeA: c.transposeA, transposeB: c.transposeB, bias, activation,
                            preluActivationWeights: prelu, leakyreluAlpha: c.leakyreluAlpha});
  }
  const inputs: tf.NamedTensorMap = {a, b};
  if (bias != null) inputs.bias = bias;
  if (prelu != null) inputs.preluActivationWeights = prelu;
  return tf.engine().runKernel(tf._FusedMatMul, inputs, {
    transposeA: c.transposeA, transposeB: c.transposeB, activation, leakyreluAlpha: c.leakyreluAlpha ?? 0.2,
  }) as tf.Tensor;
}

/** Flat batch index of an operand of batch shape `shape` for each flat index of the broadcast `outShape`. */
function broadcastIndex(shape: number[], outShape: number[]): number[] {
  const total = tf.util.sizeFromShape(outShape);
  const result: number[] = [];
  for (let i = 0; i < total; i++) {
    const coords = [];
    let rest = i;
    for (let d = outShape.length - 1; d >= 0; d--) {
      coords[d] = rest % outShape[d];
      rest = Math.floor(rest / outShape[d]);
    }
    let at = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = shape[d] === 1 ? 0 : coords[d + outShape.length - shape.length];
      at = at * shape[d] + c;
    }
    result.push(at);
  }
  return result;
}

/** For every output element, Σ|a·b| + |bias| (float64), the scale of the summation error. */
function magnitudes(c: ProductCase): {scale: Float64Array; k: number} {
  const ra = c.a.shape.length;
  const rb = c.b.shape.length;
  const m = c.a.shape[c.transposeA ? ra - 1 : ra - 2];
  const k = c.a.shape[c.transposeA ? ra - 2 : ra - 1];
  const n = c.b.shape[c.transposeB ? rb - 2 : rb - 1];
  const batchA = c.a.shape.slice(0, -2);
  const batchB = c.b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const ia = broadcastIndex(batchA, outBatch);
  const ib = broadcastIndex(batchB, outBatch);
  const scale = new Float64Array(ia.length * m * n);
  const biasAt = (i: number, j: number): number => {
    if (c.bias == null) return 0;
    const s = c.bias.shape;
    const col = s[s.length - 1] === 1 ? 0 : j;
    const row = s.length >= 2 && s[s.length - 2] !== 1 ? i : 0;
    return Math.abs(c.bias.values[row * s[s.length - 1] + col]);
  };
  for (let t = 0; t < ia.length; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = biasAt(i, j);
        for (let p = 0; p < k; p++) {
          const av = c.a.values[ia[t] * m * k + (c.transposeA ? p * m + i : i * k + p)];
          const bv = c.b.values[ib[t] * k * n + (c.transposeB ? j * k + p : p * n + j)];
          s += Math.abs(av * bv);
        }
        scale[(t * m + i) * n + j] = s;
      }
    }
  }
  return {scale, k};
}

/** Whether the cpu kernel's batch indexing (flat index modulo each operand's batch size) is right for this case. */
function cpuBroadcastsRight(c: ProductCase): boolean {
  const batchA = c.a.shape.slice(0, -2);
  const batchB = c.b.shape.slice(0, -2);
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchA, batchB);
  const sa = tf.util.sizeFromShape(batchA);
  const sb = tf.util.sizeFromShape(batchB);
  const ia = broadcastIndex(batchA, outBatch);
  const ib = broadcastIndex(batchB, outBatch);
  return ia.every((v, i) => v === i % sa) && ib.every((v, i) => v === i % sb);
}

/** An independent float64 product with the same broadcasting, bias and activation (the reference where cpu's indexing is wrong). */
function float64Product(c: ProductCase): Outcome {
  const ra = c.a.shape.length;
  const rb = c.b.shape.length;
  const m = c.a.shape[c.transposeA ? ra - 1 : ra - 2];
  const k = c.a.shape[c.transposeA ? ra - 2 : ra - 1];
  const n = c.b.shape[c.transposeB ? rb - 2 : rb - 1];
  const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(c.a.shape.slice(0, -2), c.b.shape.slice(0, -2));
  const ia = broadcastIndex(c.a.shape.slice(0, -2), outBatch);
  const ib = broadcastIndex(c.b.shape.slice(0, -2), outBatch);
  const values = new Float32Array(ia.length * m * n);
  for (let t = 0; t < ia.length; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          s += c.a.values[ia[t] * m * k + (c.transposeA ? p * m + i : i * k + p)] *
               c.b.values[ib[t] * k * n + (c.transposeB ? j * k + p : p * n + j)];
        }
        values[(t * m + i) * n + j] = s;
      }
    }
  }
  return {shape: [...outBatch, m, n], dtype: 'float32', values};
}

function compareProducts(f: Failures, cases: ProductCase[], got: Outcome[], cpu: Outcome[], label: string,
                         fused: boolean): void {
  cases.forEach((c, i) => {
    const name = `${label} case ${i} a=[${c.a.shape}] b=[${c.b.shape}] tA=${c.transposeA} tB=${c.transposeB}` +
        (fused ? ` bias=${c.bias ? `[${c.bias.shape}]` : '-'} ${c.activation}` : '') + (c.viaOp ? ' (op)' : '');
    const {scale, k} = magnitudes(c);
    const slopes = Math.max(1, c.leakyreluAlpha ?? 0, ...(c.prelu ? Array.from(c.prelu.values, Math.abs) : [0]));
    const smooth = c.activation === 'elu' || c.activation === 'sigmoid';
    const scaleAt = (e: number) => scale[e % scale.length];
    const tolerance = (e: number) => {
      const product = 2 * gamma(k + 2) * scaleAt(e) * slopes;
      return smooth ? product + 4 * ULP * Math.max(1, Math.abs(cpu[i].values?.[e] ?? 0)) + 2 ** -22 : product;
    };
    const reference = fused || cpuBroadcastsRight(c) ? cpu[i] : float64Product(c);
    // Where the reference is NaN, ours may be a wasm kernel's clamp of it (Relu6; Relu and the fused relu
    // of the wasm kernel, which ours uses for some biases and without the SIMD module).
    const clamps = c.activation === 'relu6' ? [wasmNaN.relu6] : c.activation === 'relu' ? [wasmNaN.relu, wasmNaN.fusedRelu] : [];
    if (clamps.some((v) => !Number.isNaN(v)) && reference.values != null && got[i].values != null) {
      const values = Float32Array.from(reference.values);
      const clamped = new Set<number>();
      reference.values.forEach((v, e) => {
        if (Number.isNaN(v) && clamps.some((cv) => Object.is(got[i].values![e], cv))) {
          values[e] = got[i].values![e];
          clamped.add(e);
        }
      });
      close(f, name, got[i], {...reference, values}, (e) => (clamped.has(e) ? 0 : tolerance(e)));
      return;
    }
    close(f, name, got[i], reference, tolerance);
  });
}

describe('BatchMatMul', () => {
  it(`${CASES} random products equal cpu's (float32 summation bound; float64 where cpu mis-indexes two-way batch broadcasts); the SIMD product computes every one`, async () => {
    const rng = mulberry32(SEED + 1);
    const cases = Array.from({length: CASES}, () => productCase(rng, false));
    const {by, simdCalls} = await runAll(cases, (c) => runProduct(c, false), ['cpu', 'wasm-on']);
    const f = new Failures();
    compareProducts(f, cases, by['wasm-on'], by.cpu, 'BatchMatMul', false);
    f.expectNone();
    const nonEmpty = by['wasm-on'].filter((o) => o.values != null && o.values.length > 0).length;
    expect(nonEmpty).toBeGreaterThan(CASES * 0.5);
    expect(simdCalls).toBe(nonEmpty);
  });

  it('the same products without the SIMD module (XNNPACK and the wasm kernel) equal cpu\'s', async () => {
    const rng = mulberry32(SEED + 2);
    // Batches broadcast both ways included: the wasm kernel mis-indexes them (as cpu does), ours tiles
    // them first; they are checked against float64.
    const cases = Array.from({length: 600}, () => productCase(rng, false));
    for (let i = 0; i < 100; i++) {  // batches [p, 1] and [1, q]
      const c = productCase(rng, false);
      c.a = spec(rng, [int(rng, 2, 3), 1, ...c.a.shape.slice(-2)], 'float32', 0.02);
      c.b = spec(rng, [1, int(rng, 2, 3), ...c.b.shape.slice(-2)], 'float32', 0.02);
      cases.push(c);
    }
    expect(cases.filter((c) => !cpuBroadcastsRight(c)).length).toBeGreaterThan(100);
    const {by} = await runAll(cases, (c) => runProduct(c, false), ['cpu', 'wasm-on-xnnpack']);
    const f = new Failures();
    compareProducts(f, cases, by['wasm-on-xnnpack'], by.cpu, 'BatchMatMul/XNNPACK', false);
    f.expectNone();
  });

  it('invalid products throw what the wasm kernel and the cpu kernel throw', async () => {
    const rng = mulberry32(SEED + 3);
    const cases: ProductCase[] = [];
    for (let i = 0; i < 300; i++) {
      const c = productCase(rng, false);
      switch (i % 5) {
        case 0:
        case 1: {  // inner dimensions differ (the bug report's shapes among them)
          const r = c.b.shape.length;
          const axis = c.transposeB ? r - 1 : r - 2;
          c.b = spec(rng, c.b.shape.map((d, j) => (j === axis ? d + int(rng, 1, 3) : d)));
          break;
        }
        case 2:  // batch shapes that do not broadcast
          c.a = spec(rng, [2, ...c.a.shape.slice(-2)]);
          c.b = spec(rng, [3, ...c.b.shape.slice(-2)]);
          break;
        case 3:  // a vector
          c.b = spec(rng, [c.b.shape[c.b.shape.length - 1]]);
          break;
        default:  // int32 operands (the wasm kernel takes float32 only; cpu multiplies them)
          c.a = spec(rng, c.a.shape, 'int32');
          c.b = spec(rng, c.b.shape, 'int32');
      }
      cases.push(c);
    }
    cases.push({a: {shape: [2, 3], dtype: 'float32', values: Float32Array.of(1, 2, 3, 4, 5, 6)},
                b: {shape: [4, 2], dtype: 'float32', values: Float32Array.of(0, 1, -3, 2, 2, 1, 2, 2)},
                transposeA: false, transposeB: false, viaOp: true});
    const {by} = await runAll(cases, (c) => runProduct(c, false), ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    let agreeWithCpu = 0;
    cases.forEach((c, i) => {
      const on = by['wasm-on'][i];
      const off = by['wasm-off'][i];
      if (on.error !== off.error) f.add(`case ${i} a=[${c.a.shape}] b=[${c.b.shape}]: ${on.error ?? 'a result'}, wasm kernel: ${off.error ?? 'a result'}`);
      if (on.error == null) f.add(`case ${i} a=[${c.a.shape}] b=[${c.b.shape}] did not throw`);
      // Where tfjs's two backends agree (shape errors), ours agrees with both; where they differ
      // (int32 operands, which cpu multiplies; reshape messages for vectors), ours is the wasm kernel's.
      if (off.error === by.cpu[i].error) {
        agreeWithCpu++;
        if (on.error !== by.cpu[i].error) f.add(`case ${i}: ${on.error}, cpu: ${by.cpu[i].error}`);
      }
    });
    f.expectNone();
    expect(by['wasm-on'][cases.length - 1].error).toBe(
        'Error: Error in matMul: inner shapes (3) and (4) of Tensors with shapes 2,3 and 4,2 and transposeA=false and ' +
        'transposeB=false must match.');
    expect(agreeWithCpu).toBeGreaterThan(200);
  });
});

describe('_FusedMatMul', () => {
  it(`${CASES} random fused products (bias shapes, every activation) equal cpu's`, async () => {
    const rng = mulberry32(SEED + 4);
    const cases = Array.from({length: CASES}, () => productCase(rng, true)).filter((c) => {
      // Batches broadcast both ways: cpu's indexing is wrong there (BatchMatMul checks ours against float64).
      if (!cpuBroadcastsRight(c)) return false;
      // Cases the fused op itself rejects (a bias that does not broadcast) belong to the invalid test.
      const ra = c.a.shape.length;
      const rb = c.b.shape.length;
      const out = [...tf.broadcast_util.assertAndGetBroadcastShape(c.a.shape.slice(0, -2), c.b.shape.slice(0, -2)),
                   c.a.shape[c.transposeA ? ra - 1 : ra - 2], c.b.shape[c.transposeB ? rb - 2 : rb - 1]];
      try {
        if (c.bias) tf.broadcast_util.assertAndGetBroadcastShape(out, c.bias.shape);
        if (c.prelu) tf.broadcast_util.assertAndGetBroadcastShape(out, c.prelu.shape);
        return true;
      } catch {
        return false;
      }
    });
    expect(cases.length).toBeGreaterThanOrEqual(CASES * 0.8);
    // Fill up to CASES with more draws of the same kind (a bias of n values, prelu weights of one).
    while (cases.length < CASES) {
      const c = productCase(rng, true);
      if (!cpuBroadcastsRight(c)) continue;
      c.bias = c.bias == null ? undefined : spec(rng, [c.b.shape[c.transposeB ? c.b.shape.length - 2 : c.b.shape.length - 1]]);
      if (c.prelu) c.prelu = spec(rng, [1]);
      cases.push(c);
    }
    const {by, simdCalls} = await runAll(cases, (c) => runProduct(c, true), ['cpu', 'wasm-on']);
    const f = new Failures();
    compareProducts(f, cases, by['wasm-on'], by.cpu, '_FusedMatMul', true);
    f.expectNone();
    expect(simdCalls).toBeGreaterThan(CASES * 0.3);
  });

  it('the same fused products without the SIMD module equal cpu\'s', async () => {
    const rng = mulberry32(SEED + 5);
    const cases = Array.from({length: 600}, () => productCase(rng, true)).filter((c) => {
      const ra = c.a.shape.length;
      const rb = c.b.shape.length;
      const out = [...tf.broadcast_util.assertAndGetBroadcastShape(c.a.shape.slice(0, -2), c.b.shape.slice(0, -2)),
                   c.a.shape[c.transposeA ? ra - 1 : ra - 2], c.b.shape[c.transposeB ? rb - 2 : rb - 1]];
      const sa = tf.util.sizeFromShape(c.a.shape.slice(0, -2));
      const sb = tf.util.sizeFromShape(c.b.shape.slice(0, -2));
      if (!(sa === 1 || sb === 1 || tf.util.arraysEqual(c.a.shape.slice(0, -2), c.b.shape.slice(0, -2)))) return false;
      try {
        if (c.bias) tf.broadcast_util.assertAndGetBroadcastShape(out, c.bias.shape);
        if (c.prelu) tf.broadcast_util.assertAndGetBroadcastShape(out, c.prelu.shape);
        return true;
      } catch {
        return false;
      }
    });
    const {by} = await runAll(cases, (c) => runProduct(c, true), ['cpu', 'wasm-on-xnnpack']);
    const f = new Failures();
    compareProducts(f, cases, by['wasm-on-xnnpack'], by.cpu, '_FusedMatMul/XNNPACK', true);
    f.expectNone();
  });

  it('invalid fused products throw the fused op\'s errors, through the op and through runKernel', async () => {
    const rng = mulberry32(SEED + 6);
    const cases: ProductCase[] = [];
    for (let i = 0; i < 300; i++) {
      const c = productCase(rng, true);
      c.viaOp = i % 2 === 0;
      switch (i % 6) {
        case 0:
        case 1: {
          const r = c.b.shape.length;
          const axis = c.transposeB ? r - 1 : r - 2;
          c.b = spec(rng, c.b.shape.map((d, j) => (j === axis ? d + int(rng, 1, 3) : d)));
          break;
        }
        case 2:
        case 3:
          c.a = spec(rng, [2, ...c.a.shape.slice(-2)]);
          c.b = spec(rng, [3, ...c.b.shape.slice(-2)]);
          break;
        case 4: {  // a bias that does not broadcast to the output
          const rb = c.b.shape.length;
          const n = c.b.shape[c.transposeB ? rb - 2 : rb - 1];
          c.bias = spec(rng, [n + int(rng, 1, 3)]);
          break;
        }
        default: {  // prelu weights that do not broadcast to the output
          const rb = c.b.shape.length;
          const n = c.b.shape[c.transposeB ? rb - 2 : rb - 1];
          c.bias = undefined;
          c.activation = 'prelu';
          c.prelu = spec(rng, [n + int(rng, 1, 3)]);
        }
      }
      cases.push(c);
    }
    // The fused op's checks before it runs the kernel: inner dimensions, batch shapes, bias against the
    // output (a bias of n + 1 values broadcasts when n is 1: those cases are valid and dropped).
    const rejected = (c: ProductCase): boolean => {
      const ra = c.a.shape.length;
      const rb = c.b.shape.length;
      if (c.a.shape[c.transposeA ? ra - 2 : ra - 1] !== c.b.shape[c.transposeB ? rb - 1 : rb - 2]) return true;
      try {
        const batch = tf.broadcast_util.assertAndGetBroadcastShape(c.a.shape.slice(0, -2), c.b.shape.slice(0, -2));
        const out = [...batch, c.a.shape[c.transposeA ? ra - 1 : ra - 2], c.b.shape[c.transposeB ? rb - 2 : rb - 1]];
        const biased = c.bias ? tf.broadcast_util.assertAndGetBroadcastShape(out, c.bias.shape) : out;
        if (c.prelu) tf.broadcast_util.assertAndGetBroadcastShape(biased, c.prelu.shape);
        return false;
      } catch {
        return true;
      }
    };
    const invalid = cases.filter(rejected);
    expect(invalid.length).toBeGreaterThan(240);
    // The op's message for each case, made by the op on cpu (it validates before any kernel runs);
    // prelu weights only the cpu kernel checks (Prelu's broadcast), on the shapes it is given: through
    // runKernel, the cpu kernel's message for the same call.
    const viaOp = await runAll(invalid.map((c) => ({...c, viaOp: true})), (c) => runProduct(c, true), ['cpu']);
    const direct = await runAll(invalid, (c) => runProduct(c, true), ['cpu']);
    const preluOnly = (c: ProductCase) => {
      try {
        return c.prelu != null && !rejected({...c, prelu: undefined});
      } catch {
        return false;
      }
    };
    const want = invalid.map((c, i) => (preluOnly(c) && !c.viaOp ? direct.by.cpu[i] : viaOp.by.cpu[i]).error);
    expect(want.filter((e) => e == null)).toEqual([]);
    const ours = await runAll(invalid, (c) => runProduct(c, true), ['wasm-on']);
    // The wasm kernel without ours: through the op, and through runKernel with rank-3 operands only (it
    // reads shape[1] and shape[2] of both; with other ranks it would write outside its output).
    const safe = invalid.filter((c) => c.viaOp || (c.a.shape.length === 3 && c.b.shape.length === 3));
    const off = await runAll(safe, (c) => runProduct(c, true), ['wasm-off']);
    const f = new Failures();
    invalid.forEach((c, i) => {
      const got = ours.by['wasm-on'][i].error;
      if (got !== want[i]) f.add(`case ${i} a=[${c.a.shape}] b=[${c.b.shape}] bias=[${c.bias?.shape}] (${c.viaOp ? 'op' : 'runKernel'}): ${got ?? 'a result'}, op: ${want[i]}`);
    });
    let offReturned = 0;
    safe.forEach((c, i) => {
      const o = off.by['wasm-off'][i];
      if (c.viaOp && o.error !== want[invalid.indexOf(c)]) f.add(`safe case ${i}: the op on wasm threw ${o.error}`);
      if (!c.viaOp && o.error == null) offReturned++;
    });
    f.expectNone();
    // Without our kernels, runKernel on wasm returns a result for mismatched inner dimensions (it checks none).
    expect(offReturned).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- gather, slice, transpose, identity, cast

const DTYPES: readonly DType[] = ['float32', 'float32', 'int32', 'bool'];

/** A random shape of at most 20,000 elements. */
function randomShape(rng: Rng, minRank: number, maxRank: number, dims: readonly number[] = [0, 1, 1, 2, 3, 4, 5, 7]): number[] {
  for (;;) {
    const shape = Array.from({length: int(rng, minRank, maxRank)}, () => pick(rng, dims));
    if (tf.util.sizeFromShape(shape) <= 20000) return shape;
  }
}

interface GatherCase {
  x: Spec;
  indices: Spec;
  axis: number;
  batchDims: number;
  viaOp: boolean;
}

function gatherCase(rng: Rng, valid: boolean): GatherCase {
  const x = spec(rng, randomShape(rng, 1, 4), pick(rng, DTYPES), 0.1);
  const rank = x.shape.length;
  const axis = int(rng, -rank, rank - 1);
  const d = x.shape[axis < 0 ? axis + rank : axis];
  const indicesShape = d === 0 && valid ? [0] : randomShape(rng, 0, 2, [0, 1, 2, 3, 5, 8]);
  const n = tf.util.sizeFromShape(indicesShape);
  const values = Int32Array.from({length: n}, () => int(rng, 0, Math.max(d - 1, 0)));
  const c: GatherCase = {x, indices: {shape: indicesShape, dtype: 'int32', values}, axis, batchDims: 0, viaOp: chance(rng, 0.3)};
  if (!valid) {
    switch (int(rng, 0, 2)) {
      case 0:
        c.indices = {shape: [3], dtype: 'int32', values: Int32Array.of(0, chance(rng, 0.5) ? d : -1, 0)};
        break;
      case 1:
        c.axis = rank + int(rng, 0, 1);
        break;
      default:
        c.indices = {shape: [2], dtype: 'int32', values: Int32Array.of(d + 5, 0)};
    }
  }
  return c;
}

function runGather(c: GatherCase): tf.Tensor {
  const x = make(c.x);
  const indices = make(c.indices);
  return c.viaOp ? tf.gather(x, indices, c.axis, c.batchDims) :
                   tf.engine().runKernel(tf.GatherV2, {x, indices}, {axis: c.axis, batchDims: c.batchDims}) as tf.Tensor;
}

interface SliceCase {
  x: Spec;
  begin: number|number[];
  size: number|number[];
  viaOp: boolean;
}

function sliceCase(rng: Rng, valid: boolean): SliceCase {
  const x = spec(rng, randomShape(rng, 0, 5), pick(rng, DTYPES), 0.1);
  const rank = x.shape.length;
  const begin = x.shape.map((d) => int(rng, 0, d));
  const size = x.shape.map((d, i) => (chance(rng, 0.2) ? -1 : int(rng, 0, d - begin[i])));
  // The op refuses rank 0 ('Slicing scalar is not possible') before any kernel: those go through runKernel.
  const c: SliceCase = {x, begin, size, viaOp: rank > 0 && chance(rng, 0.3)};
  if (rank > 0 && chance(rng, 0.15)) {  // the short forms parseSliceParams expands
    c.begin = chance(rng, 0.5) ? begin[0] : begin.slice(0, int(rng, 1, rank));
    c.size = chance(rng, 0.5) ? (size as number[]).slice(0, int(rng, 0, rank)) : (size as number[])[0];
  }
  if (!valid) {
    const axis = int(rng, 0, Math.max(rank - 1, 0));
    switch (rank === 0 ? 3 : int(rng, 0, 3)) {
      case 0:  // begin + size past the end: the heap beyond x
        c.begin = begin;
        c.size = x.shape.map((d, i) => (i === axis ? d - begin[i] + int(rng, 1, 64) : size[i]));
        break;
      case 1:
        c.begin = begin.map((b, i) => (i === axis ? -1 : b));
        c.size = size;
        break;
      case 2:
        c.begin = begin;
        c.size = size.map((s, i) => (i === axis ? -2 : s));
        break;
      default:  // more axes than x has
        c.begin = [...begin, 0];
        c.size = [...size, 1];
    }
  }
  return c;
}

function runSlice(c: SliceCase): tf.Tensor {
  const x = make(c.x);
  return c.viaOp ? tf.slice(x, c.begin, c.size) :
                   tf.engine().runKernel(tf.Slice, {x}, {begin: c.begin, size: c.size}) as tf.Tensor;
}

interface TransposeCase {
  x: Spec;
  perm: number[];
  viaOp: boolean;
}

function transposeCase(rng: Rng): TransposeCase {
  const x = spec(rng, randomShape(rng, 1, 5, [0, 1, 1, 2, 3, 4, 5, 7, 8, 9, 13]), pick(rng, DTYPES), 0.1);
  const rank = x.shape.length;
  let perm = permutation(rng, rank);
  if (rank >= 2 && chance(rng, 0.6)) {  // the last two axes swapped, the kernel's fast path
    perm = Array.from({length: rank}, (_, i) => i);
    [perm[rank - 2], perm[rank - 1]] = [rank - 1, rank - 2];
  }
  return {x, perm, viaOp: chance(rng, 0.3)};
}

function runTranspose(c: TransposeCase): tf.Tensor {
  const x = make(c.x);
  return c.viaOp ? tf.transpose(x, c.perm) : tf.engine().runKernel(tf.Transpose, {x}, {perm: c.perm}) as tf.Tensor;
}

/**
 * Valid outcomes bit for bit equal to cpu's and to the wasm kernel's; errors
 * those of cpu and of the wasm kernel. Inputs without elements (`empty(i)`)
 * against cpu only: tfjs's wasm kernels get them wrong (GatherV2 returns its
 * flattened 4-D shape, Transpose traps with 'divide by zero'), ours do not.
 */
function compareExact(f: Failures, label: string, n: number, by: Record<string, Outcome[]>,
                      describeCase: (i: number) => string, empty: (i: number) => boolean = () => false): void {
  for (let i = 0; i < n; i++) {
    sameBits(f, `${label} ${describeCase(i)} vs cpu`, by['wasm-on'][i], by.cpu[i]);
    if (!empty(i)) sameBits(f, `${label} ${describeCase(i)} vs the wasm kernel`, by['wasm-on'][i], by['wasm-off'][i]);
  }
}

const isEmpty = (s: Spec) => tf.util.sizeFromShape(s.shape) === 0;

describe('GatherV2', () => {
  it(`${CASES} random gathers are bit for bit those of cpu and of the wasm kernel`, async () => {
    const rng = mulberry32(SEED + 7);
    const cases = Array.from({length: CASES}, () => gatherCase(rng, true));
    const {by} = await runAll(cases, runGather, ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    compareExact(f, 'GatherV2', cases.length, by, (i) => `x=[${cases[i].x.shape}] ${cases[i].x.dtype} axis=${cases[i].axis} indices=[${cases[i].indices.shape}]`,
                 (i) => isEmpty(cases[i].x));
    f.expectNone();
    expect(by['wasm-on'].filter((o) => o.error != null)).toEqual([]);
  });

  it('out-of-range indices and axes throw the errors of cpu and of the wasm kernel', async () => {
    const rng = mulberry32(SEED + 8);
    const cases = Array.from({length: 300}, () => gatherCase(rng, false));
    const {by} = await runAll(cases, runGather, ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    compareExact(f, 'GatherV2', cases.length, by, (i) => `x=[${cases[i].x.shape}] axis=${cases[i].axis} indices=${cases[i].indices.values}`);
    f.expectNone();
    expect(by['wasm-on'].filter((o) => o.error == null)).toEqual([]);
  });
});

describe('Slice', () => {
  it(`${CASES} random slices are bit for bit those of cpu and of the wasm kernel`, async () => {
    const rng = mulberry32(SEED + 9);
    const cases = Array.from({length: CASES}, () => sliceCase(rng, true));
    const {by} = await runAll(cases, runSlice, ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    // A scalar's slice is the scalar; tfjs's cpu and wasm kernels read the element after it
    // (slice_util.computeFlatOffset is 1 for no axes): cpu returns no values, wasm the neighbour's.
    const scalar = (i: number) => cases[i].x.shape.length === 0;
    for (const i of cases.keys()) {
      if (scalar(i)) sameBits(f, `Slice of the scalar ${cases[i].x.values[0]}`, by['wasm-on'][i], {...cases[i].x, values: cases[i].x.values});
    }
    const others = [...cases.keys()].filter((i) => !scalar(i));
    compareExact(f, 'Slice', others.length, {cpu: others.map((i) => by.cpu[i]), 'wasm-off': others.map((i) => by['wasm-off'][i]),
                                             'wasm-on': others.map((i) => by['wasm-on'][i])},
                 (j) => `x=[${cases[others[j]].x.shape}] ${cases[others[j]].x.dtype} begin=${JSON.stringify(cases[others[j]].begin)} size=${JSON.stringify(cases[others[j]].size)}`);
    f.expectNone();
    expect(cases.filter((c) => c.x.shape.length === 0).length).toBeGreaterThan(100);
    expect(by['wasm-on'].filter((o) => o.error != null)).toEqual([]);
  });

  it('invalid slices throw the errors of cpu (the wasm kernel reads past x without a word)', async () => {
    const rng = mulberry32(SEED + 10);
    const cases = Array.from({length: 300}, () => sliceCase(rng, false));
    const {by} = await runAll(cases, runSlice, ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    let wasmReturned = 0;
    cases.forEach((c, i) => {
      sameBits(f, `Slice x=[${c.x.shape}] begin=${JSON.stringify(c.begin)} size=${JSON.stringify(c.size)} vs cpu`,
               by['wasm-on'][i], by.cpu[i]);
      if (by['wasm-off'][i].error == null) wasmReturned++;
    });
    f.expectNone();
    expect(by['wasm-on'].filter((o) => o.error == null)).toEqual([]);
    // tfjs's wasm kernel returns something for slices past the end (it checks no bounds).
    expect(wasmReturned).toBeGreaterThan(0);
  });
});

describe('Transpose', () => {
  it(`${CASES} random transposes are bit for bit those of cpu and of the wasm kernel`, async () => {
    const rng = mulberry32(SEED + 11);
    const cases = Array.from({length: CASES}, () => transposeCase(rng));
    const before = getFastWasmKernelsStats().simd;
    const {by} = await runAll(cases, runTranspose, ['cpu', 'wasm-off', 'wasm-on']);
    expect(getFastWasmKernelsStats().simd).toBeGreaterThan(before);
    const f = new Failures();
    compareExact(f, 'Transpose', cases.length, by, (i) => `x=[${cases[i].x.shape}] ${cases[i].x.dtype} perm=${cases[i].perm}`,
                 (i) => isEmpty(cases[i].x));
    f.expectNone();
  });

  it('invalid permutations throw the errors of cpu and of the wasm kernel', async () => {
    const rng = mulberry32(SEED + 12);
    const cases = Array.from({length: 200}, (_, i) => {
      const c = transposeCase(rng);
      const rank = c.x.shape.length;
      c.viaOp = true;
      c.perm = i % 2 === 0 ? [...c.perm, rank] : c.perm.map((p) => (p === 0 ? rank : p));
      return c;
    });
    const {by} = await runAll(cases, runTranspose, ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    compareExact(f, 'Transpose', cases.length, by, (i) => `x=[${cases[i].x.shape}] perm=${cases[i].perm}`);
    f.expectNone();
    expect(by['wasm-on'].filter((o) => o.error == null)).toEqual([]);
  });
});

describe('Identity and Cast', () => {
  it(`${CASES} identities and ${CASES} casts (same dtype and others) equal cpu and the wasm kernels`, async () => {
    const rng = mulberry32(SEED + 13);
    const cases = Array.from({length: 2 * CASES}, (_, i) => ({
      x: spec(rng, randomShape(rng, 0, 4), pick(rng, DTYPES), 0.1),
      kernel: i % 2 === 0 ? 'Identity' : 'Cast',
      dtype: pick(rng, ['float32', 'int32', 'bool', 'float32'] as const),
      viaOp: chance(rng, 0.3),
    }));
    cases.forEach((c) => {
      if (c.kernel === 'Cast' && chance(rng, 0.6)) c.dtype = c.x.dtype as typeof c.dtype;
    });
    const run = (c: typeof cases[number]) => {
      const x = make(c.x);
      if (c.kernel === 'Identity') return c.viaOp ? tf.clone(x) : tf.engine().runKernel(tf.Identity, {x}) as tf.Tensor;
      return c.viaOp ? tf.cast(x, c.dtype) : tf.engine().runKernel(tf.Cast, {x}, {dtype: c.dtype}) as tf.Tensor;
    };
    const {by} = await runAll(cases, run, ['cpu', 'wasm-off', 'wasm-on']);
    const f = new Failures();
    cases.forEach((c, i) => {
      const label = `${c.kernel} x=[${c.x.shape}] ${c.x.dtype} -> ${c.kernel === 'Cast' ? c.dtype : c.x.dtype}`;
      sameBits(f, `${label} vs the wasm kernel`, by['wasm-on'][i], by['wasm-off'][i]);
      // Float-to-integer casts of NaN and ±Inf differ between tfjs's own backends; ours are the wasm kernel's.
      const crossCast = c.kernel === 'Cast' && c.dtype !== c.x.dtype;
      if (!crossCast) sameBits(f, `${label} vs cpu`, by['wasm-on'][i], by.cpu[i]);
    });
    f.expectNone();
  });

  it('what they do not compute (strings, other dtypes, invalid targets) is the wasm kernels\' result or error', async () => {
    const cases: Array<() => tf.Tensor> = [
      () => tf.engine().runKernel(tf.Identity, {x: tf.tensor(['a', 'bc'])}) as tf.Tensor,
      () => tf.engine().runKernel(tf.Cast, {x: tf.tensor(['a', 'bc'])}, {dtype: 'string'}) as tf.Tensor,
      () => tf.engine().runKernel(tf.Cast, {x: tf.tensor([1.5, NaN])}, {dtype: 'string'}) as tf.Tensor,
      () => tf.engine().runKernel(tf.Cast, {x: tf.tensor([1.5, NaN])}, {}) as tf.Tensor,
      () => tf.cast(tf.tensor([1.5, NaN]), 'complex64'),
      () => tf.engine().runKernel(tf.Softplus, {x: tf.tensor([1, -2, 3], [3], 'int32')}) as tf.Tensor,
      // (Softplus of a bool tensor is left out: the wasm kernel returns uninitialised memory for it.)
      () => tf.engine().runKernel(tf.Sum, {x: tf.tensor([true, false, true], [3, 1], 'bool')}, {axis: [0]}) as tf.Tensor,
    ];
    const {by} = await runAll(cases, (c) => c(), ['wasm-off', 'wasm-on']);
    const f = new Failures();
    cases.forEach((_, i) => sameBits(f, `case ${i}`, by['wasm-on'][i], by['wasm-off'][i]));
    f.expectNone();
  });

  it('the output of Identity and of a same-dtype Cast stays valid after the input is disposed', async () => {
    await setMode('wasm-on');
    const x = tf.tensor([1, NaN, -0, Infinity], [2, 2]);
    const y = tf.engine().runKernel(tf.Identity, {x}) as tf.Tensor;
    const z = tf.cast(x, 'float32');
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, NaN, -0, Infinity]);
    expect(Array.from(z.dataSync())).toEqual([1, NaN, -0, Infinity]);
    tf.dispose([y, z]);
  });
});

// ---------------------------------------------------------------- sum, softplus

interface SumCase {
  x: Spec;
  axis: number|number[]|null;
  keepDims: boolean;
  viaOp: boolean;
}

function sumCase(rng: Rng): SumCase {
  const x = spec(rng, randomShape(rng, 1, 4, [0, 1, 1, 2, 3, 5, 8, 9, 17, 33]), chance(rng, 0.9) ? 'float32' : 'int32',
                 chance(rng, 0.2) ? 0.05 : 0);
  const rank = x.shape.length;
  let axis: number|number[];
  if (chance(rng, 0.6)) {  // leading axes, the kernel's fast path
    axis = Array.from({length: int(rng, 1, rank)}, (_, i) => i);
  } else {
    axis = permutation(rng, rank).slice(0, int(rng, 1, rank));
  }
  if (chance(rng, 0.2)) axis = axis.map((a) => a - rank);
  if (axis.length === 1 && chance(rng, 0.5)) axis = axis[0];
  // No axis: all of them.
  return {x, axis: chance(rng, 0.1) ? null : axis, keepDims: chance(rng, 0.3), viaOp: chance(rng, 0.3)};
}

function runSum(c: SumCase): tf.Tensor {
  const x = make(c.x);
  return c.viaOp ? tf.sum(x, c.axis ?? undefined, c.keepDims) :
                   tf.engine().runKernel(tf.Sum, {x}, {axis: c.axis as number[], keepDims: c.keepDims}) as tf.Tensor;
}

describe('Sum', () => {
  it(`${CASES} random sums equal cpu's (float32 summation bound)`, async () => {
    const rng = mulberry32(SEED + 14);
    const cases = Array.from({length: CASES}, () => sumCase(rng));
    const {by} = await runAll(cases, runSum, ['cpu', 'wasm-on']);
    const f = new Failures();
    cases.forEach((c, i) => {
      const axes = tf.util.parseAxisParam(c.axis as number[], c.x.shape);
      const rows = tf.util.sizeFromShape(axes.map((a) => c.x.shape[a]));
      // A finite result has finite terms only: bound it by all finite magnitudes.
      const total = Array.from(c.x.values).reduce((s, v) => (Number.isFinite(v) ? s + Math.abs(v) : s), 0);
      close(f, `Sum x=[${c.x.shape}] ${c.x.dtype} axis=${c.axis} keepDims=${c.keepDims}`, by['wasm-on'][i], by.cpu[i],
            () => 2 * gamma(rows + 1) * total);
    });
    f.expectNone();
  });

  it('invalid and repeated axes throw or sum as the wasm kernel does', async () => {
    const rng = mulberry32(SEED + 15);
    const cases = Array.from({length: 200}, (_, i) => {
      const c = sumCase(rng);
      const rank = c.x.shape.length;
      c.x = {...c.x, dtype: 'float32', values: Float32Array.from(c.x.values)};
      c.axis = i % 3 === 0 ? [0, 0] : i % 3 === 1 ? rank : -rank - 1;
      return c;
    });
    const {by} = await runAll(cases, runSum, ['wasm-off', 'wasm-on']);
    const f = new Failures();
    cases.forEach((c, i) => {
      const label = `Sum x=[${c.x.shape}] axis=${c.axis}`;
      const off = by['wasm-off'][i];
      if (isEmpty(c.x) && off.values != null) {
        // Repeated axes of an empty tensor: the wasm kernel's shape, and values that are whatever its
        // output memory held, for ours (the wasm kernel) too: the shapes only.
        const got = by['wasm-on'][i];
        if (JSON.stringify(got.shape) !== JSON.stringify(off.shape)) f.add(`${label}: shape ${got.shape}, want ${off.shape}`);
      } else {
        sameBits(f, label, by['wasm-on'][i], off);
      }
    });
    f.expectNone();
  });
});

describe('Softplus', () => {
  it(`${CASES} random softplus calls equal cpu's (2e-6 relative) and float64 (3 ulps)`, async () => {
    const rng = mulberry32(SEED + 16);
    const draw = (): number => {
      switch (int(rng, 0, 6)) {
        case 0: return pick(rng, [NaN, Infinity, -Infinity, 0, -0, 13.9, -13.9, 88.7, -87.3, 1e-45, -1e-45]);
        case 1: return (rng() - 0.5) * 2e-6;
        case 2: return (rng() - 0.5) * 60;
        case 3: return (rng() - 0.5) * 400;
        case 4: return (rng() < 0.5 ? -1 : 1) * 10 ** (rng() * 76 - 38);
        default: return (rng() - 0.5) * 8;
      }
    };
    const cases = Array.from({length: CASES}, () => {
      const shape = randomShape(rng, 0, 3, [0, 1, 2, 3, 5, 7, 9]);
      return {shape, dtype: 'float32' as const, values: Float32Array.from({length: tf.util.sizeFromShape(shape)}, draw)};
    });
    const {by} = await runAll(cases, (c) => tf.softplus(make(c)), ['cpu', 'wasm-on']);
    const f = new Failures();
    cases.forEach((c, i) => {
      const label = `Softplus [${c.shape}]`;
      close(f, `${label} vs cpu`, by['wasm-on'][i], by.cpu[i], (e) => 2e-6 * Math.abs(by.cpu[i].values![e]) + 1.2e-38);
      const exact = Float32Array.from(c.values, (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))));
      close(f, `${label} vs float64`, by['wasm-on'][i], {shape: c.shape, dtype: 'float32', values: exact},
            (e) => 3 * ULP * Math.abs(exact[e]) + 1.2e-38);
    });
    f.expectNone();
  });
});

// ---------------------------------------------------------------- Adam

describe('Adam', () => {
  it(`${CASES} random variable updates (2 steps each) are bit for bit those of tfjs's Adam on cpu`, async () => {
    const rng = mulberry32(SEED + 17);
    const optimizers = Array.from({length: CASES / 8}, () => ({
      learningRate: pick(rng, [0.001, 0.01, 0.1, 1, Math.fround(rng())]),
      beta1: pick(rng, [0.9, 0.5, 0, Math.fround(rng())]),
      beta2: pick(rng, [0.999, 0.9, Math.fround(rng())]),
      epsilon: pick(rng, [1e-7, 1e-3, 1e-8]),
      variables: Array.from({length: 8}, () => {
        const shape = randomShape(rng, 0, 3, [0, 1, 2, 3, 5, 7, 9, 17]);
        const special = chance(rng, 0.3) ? 0.05 : 0;
        return {value: spec(rng, shape, 'float32', special), gradients: [spec(rng, shape, 'float32', special), spec(rng, shape, 'float32', special)]};
      }),
    }));
    const run = async (mode: Mode) => {
      await setMode(mode);
      const before = getFastWasmKernelsStats().adam;
      const results = optimizers.map((o) => {
        const adam = tf.train.adam(o.learningRate, o.beta1, o.beta2, o.epsilon);
        const variables = o.variables.map((v) => tf.variable(make(v.value)));
        for (let step = 0; step < 2; step++) {
          const grads = o.variables.map((v) => make(v.gradients[step]));
          adam.applyGradients(variables.map((x, j) => ({name: x.name, tensor: grads[j]})));
          tf.dispose(grads);
        }
        const out = variables.map((x) => x.dataSync().slice() as Float32Array);
        tf.dispose(variables);
        adam.dispose();
        return out;
      });
      return {results, fused: getFastWasmKernelsStats().adam - before};
    };
    const cpu = await run('cpu');
    const ours = await run('wasm-on');
    const f = new Failures();
    optimizers.forEach((o, i) => o.variables.forEach((v, j) => {
      sameBits(f, `Adam lr=${o.learningRate} b1=${o.beta1} b2=${o.beta2} eps=${o.epsilon} [${v.value.shape}]`,
               {shape: v.value.shape, dtype: 'float32', values: ours.results[i][j]},
               {shape: v.value.shape, dtype: 'float32', values: cpu.results[i][j]});
    }));
    f.expectNone();
    expect(cpu.fused).toBe(0);
    expect(ours.fused).toBe(optimizers.length * 8 * 2);
  });

  it('gradients of another shape or dtype, or disposed, take tfjs\'s own path and its errors', async () => {
    const cases = [
      {value: [2, 3], gradient: [3], dtype: 'float32'},
      {value: [2, 3], gradient: [2, 1], dtype: 'float32'},
      {value: [2, 3], gradient: [4, 3], dtype: 'float32'},
      {value: [3], gradient: [2, 3], dtype: 'float32'},
      {value: [2, 3], gradient: [2, 3], dtype: 'int32'},
      {value: [2, 3], gradient: [2, 3], dtype: 'float32', disposed: true},
    ] as Array<{value: number[]; gradient: number[]; dtype: DType; disposed?: boolean}>;
    const rng = mulberry32(SEED + 18);
    const specs = cases.map((c) => ({value: spec(rng, [...c.value]), gradient: spec(rng, [...c.gradient], c.dtype)}));
    const run = async (mode: Mode) => {
      await setMode(mode);
      return cases.map((_, i) => outcome(() => {
        const x = tf.variable(make(specs[i].value));
        const adam = tf.train.adam(0.1);
        try {
          const gradient = make(specs[i].gradient);
          if (cases[i].disposed) gradient.dispose();
          adam.applyGradients([{name: x.name, tensor: gradient}]);
          return tf.clone(x);
        } finally {
          adam.dispose();
          x.dispose();
        }
      }));
    };
    const cpu = await run('cpu');
    const off = await run('wasm-off');
    const on = await run('wasm-on');
    const f = new Failures();
    cases.forEach((c, i) => {
      const label = `Adam value=[${c.value}] gradient=[${c.gradient}] ${c.dtype}`;
      sameBits(f, `${label} vs tfjs on wasm`, on[i], off[i]);
      if (on[i].error !== cpu[i].error) f.add(`${label}: ${on[i].error ?? 'a result'}, tfjs on cpu: ${cpu[i].error ?? 'a result'}`);
    });
    f.expectNone();
  });
});
