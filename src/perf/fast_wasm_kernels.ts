/**
 * Fast (and correct) wasm kernels for training: matrix products, transposes,
 * sums, softplus, batch gather and slice; and (fused_adam.ts) Adam updates.
 *
 * The wasm backend of tfjs 4.22 computes `matMul(a, b)` with XNNPACK only when
 * neither `transposeA` nor `transposeB` is set and both operands have a batch
 * size of one; every other product runs a naive blocked loop, ten to thirty
 * times slower (256×784 by 784×512 on 2 cores: 11–29 GFLOP/s plain, 0.7–2.2
 * GFLOP/s with a flag; `bench/matmul_transpose.mjs`). Every backward pass uses
 * those flags: the gradient of `y = x·W` is `dx = dy·Wᵀ` and `dW = xᵀ·dy`, for
 * tfjs's `Dense` through the `customGrad` of the fused op inside tfjs-core,
 * for `tf.matMul` through the registered `BatchMatMul` gradient. The fused
 * kernel's loop is also wrong whenever it runs: it adds `bias[n-1]` instead of
 * `bias[j]` to every row but the first, adds the bias and clamps relu/relu6
 * once per 48-wide block of the shared dimension instead of once. And even
 * the XNNPACK path pays, for every right operand it has not seen before, about
 * 3 ms to pack a 784×512 matrix — a third of the product itself — which in
 * training is every product: the weights change every step and the backward
 * products multiply by gradients.
 *
 * The fix works below every gradient, at the kernel registry. On the `wasm`
 * backend, `BatchMatMul` and `_FusedMatMul` run the product of
 * `simd_kernels.wat` (a WebAssembly SIMD module working in the backend's own
 * memory): flagged operands are copied transposed (SIMD tiles), the right
 * operand is packed in panels of 8 columns (a fraction of a millisecond), and
 * 4×8 tiles accumulate in SIMD registers, with the bias and relu applied in
 * the same pass (other activations by their own kernels afterwards). A
 * `[B, m, k]·[k, n]` product is one `[B·m, k]·[k, n]` product. It runs as fast
 * as XNNPACK's product with a cached right operand, and a third faster than
 * XNNPACK with a new one. Where the module cannot run (no WebAssembly SIMD, or
 * the threaded build with more than one thread, where XNNPACK splits its work)
 * the products are rewritten for XNNPACK instead: flagged operands transposed
 * with the wasm `Transpose` kernel, flags cleared, batch folded; tiny flagged
 * products (`MIN_WORK_PER_COPIED_ELEMENT`) keep the loop; the fused kernel
 * never takes it.
 *
 * Also replaced on the training path:
 *
 * - `Transpose` of the last two axes: SIMD 4×4 tiles (0.2 ms for 256×784,
 *   0.75 ms in the wasm kernel);
 * - `Sum` over leading axes (every bias gradient): SIMD column sums in one
 *   pass (the wasm kernel transposes first: 0.9 ms for 256×784 against 0.2);
 * - `Softplus` (the Bernoulli likelihood's cost): a SIMD exp and log1p,
 *   within 2 float32 ulps (the wasm kernel calls the C library per element,
 *   4–6 ms for 256×784);
 * - `GatherV2` (how `model.fit` takes each batch from its inputs and targets:
 *   12 ms per 256×784 batch in the wasm kernel, 0.3 ms as row copies) and
 *   `Slice` (the wasm kernel copies its whole input out of the heap first:
 *   14 ms for a 256-row batch of a 10,000×784 tensor, 0.1 ms as row copies);
 * - `Identity` and `Cast` to the same dtype: the output shares the input's
 *   memory instead of a copy (as `Reshape` does);
 * - Adam's thirteen elementwise ops per variable: one SIMD pass (fused_adam.ts).
 *
 * Products, sums and softplus equal tfjs's cpu backend up to float32 rounding
 * (summation order); transposes, gathers, slices and Adam updates are bit for
 * bit those of tfjs.
 *
 * Every replacement validates what tfjs's kernel or op validates before it
 * touches the heap (inner dimensions, batch and bias broadcasting, dtypes,
 * slice bounds, gather indices, axes, permutations, activations) and hands
 * whatever it does not compute to the kernel it replaced, so errors are
 * tfjs's own; `_FusedMatMul` repeats the fused op's checks with the op's
 * messages, which the wasm kernel lacks (docs/performance.md, "Conformance";
 * tests: `__tests__/kernel_differential.test.ts` and tfjs-core's own specs,
 * `__tests__/tfjs_core_specs`).
 *
 * Installed only on the tfjs versions this was tested on (tfjs-core and
 * tfjs-layers 4.22.x, `src/util/tfjs_version.ts`): on others nothing is
 * replaced and one warning says how to force it
 * (`enableFastWasmKernels({force: true})` or the flag `TFV_ALLOW_UNTESTED_TFJS`).
 *
 * Only the `wasm` backend is touched; every other backend keeps its kernels
 * (the same objects). Importing `tfjs-variational` turns this on; turn it off
 * with `tfv.disableFastWasmKernels()` or `tf.env().set('TFV_WASM_FAST_KERNELS', false)`
 * (in a browser also `?tfjsflags=TFV_WASM_FAST_KERNELS:false`).
 *
 * The wasm package may be imported before or after this library: when its
 * kernels are not registered yet, a setup hook (a kernel entry of our own for
 * `wasm` whose `setupFunc` tfjs-core runs on every `tf.setBackend('wasm')`)
 * wraps them as soon as the backend is selected.
 */
import * as tf from '@tensorflow/tfjs-core';

import {onUntestedTfjsAllowed, patchesAllowed} from '../util/tfjs_version';

import {disableFusedAdam, enableFusedAdam, fusedAdamUpdates} from './fused_adam';
import {heapOffset, SimdKernels, simdKernelsFor, WasmBackendLike} from './simd_kernels';

/** Name of the tfjs environment flag that switches the wrapping on and off. */
export const FAST_WASM_KERNELS_FLAG = 'TFV_WASM_FAST_KERNELS';

const BACKEND = 'wasm';
/** Registry entry of ours whose `setupFunc` wraps the kernels when the backend is set. */
const SETUP_HOOK_KERNEL = 'TfvFastWasmKernelsSetup';
/**
 * A flagged operand is copied only when the product does at least this many
 * multiply-adds per copied element. Measured on wasm (tfjs 4.22): the naive
 * transposed loop runs at ~1 GMAC/s, a transposed copy plus an XNNPACK product
 * breaks even at about four output columns per copied row.
 */
const MIN_WORK_PER_COPIED_ELEMENT = 4;

/** The parts of the wasm backend the wrappers use (public methods of its `BackendWasm`). */
interface WasmBackend {
  disposeData(dataId: tf.DataId, force?: boolean): boolean|void;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array|Int32Array|Uint8Array;
}

/** Counts of the rewrites done since the process started (for tests and benchmarks). */
export interface FastWasmKernelsStats {
  /** Products whose flagged operands were transposed into temporaries. */
  transposed: number;
  /** Products with a broadcast right operand run as one 2-D product. */
  folded: number;
  /** Flagged `BatchMatMul` products left to the original kernel because they were too small to gain. */
  passedThrough: number;
  /** `_FusedMatMul` products with a batched right operand, run as product, bias add and activation. */
  unfused: number;
  /** `GatherV2` and `Slice` calls done by copying rows of the wasm heap; `Identity` and same-dtype `Cast` calls that shared memory. */
  copied: number;
  /** Products, `Transpose`, `Sum` and `Softplus` calls done by the SIMD module (`simd_kernels.wat`). */
  simd: number;
  /** Variables updated by the one-pass Adam kernel (`fused_adam.ts`). */
  adam: number;
}

/**
 * Marks a wrapper config with the config it wraps. A registered symbol, so that
 * two copies of this library in one process (an ESM and a CJS build) recognise
 * each other's wrappers in tfjs's process-wide kernel registry.
 */
const ORIGINAL: unique symbol = Symbol.for('tfjs-variational.fastWasmKernels.original');

interface WrapperConfig extends tf.KernelConfig {
  [ORIGINAL]?: tf.KernelConfig;
}

const stats: Omit<FastWasmKernelsStats, 'adam'> =
    {transposed: 0, folded: 0, passedThrough: 0, unfused: 0, copied: 0, simd: 0};
let enabled = false;
let flagRegistered = false;
let syncingFlag = false;
/** Set by `enableFastWasmKernels({force: true})`: later calls skip the version check too. */
let forced = false;
/** The import default was refused by the version check (and nobody has switched the kernels off since). */
let refusedDefault = false;

/** What the version check (`src/util/tfjs_version.ts`) names when it keeps the kernels off. */
export const FAST_WASM_KERNELS_FEATURE =
    'the fast wasm kernels (BatchMatMul, _FusedMatMul, GatherV2, Slice, Transpose, Sum, Softplus, Identity, Cast) ' +
    'and the one-pass Adam update (AdamOptimizer.prototype.applyGradients)';

/** Options of `enableFastWasmKernels`. */
export interface FastWasmKernelsOptions {
  /**
   * Install the kernels and the Adam update even on tfjs versions they were
   * not tested on (anything but tfjs-core and tfjs-layers 4.22.x). Remembered
   * for later calls.
   */
  force?: boolean;
}

/**
 * Replaces the wasm backend's `BatchMatMul`, `_FusedMatMul`, `Transpose`,
 * `Sum`, `Softplus`, `GatherV2`, `Slice`, `Identity` and `Cast` kernels with
 * the faster ones of this module (and, for `_FusedMatMul`, correct ones), and
 * lets Adam update each variable in one pass there. Other backends are not
 * touched. Safe to call repeatedly.
 *
 * Only on the tfjs versions this was tested on (tfjs-core and tfjs-layers
 * 4.22.x): on others nothing is installed and a warning says so once, unless
 * `options.force` is true or the tfjs flag `TFV_ALLOW_UNTESTED_TFJS` is set.
 *
 * @returns `true` when the wasm kernels are wrapped now; `false` when the wasm
 *   backend's kernels are not registered (yet): they are then wrapped when
 *   `tf.setBackend('wasm')` runs; also `false` when the version check keeps
 *   them off (`isFastWasmKernelsEnabled()` stays false then).
 */
export function enableFastWasmKernels(options: FastWasmKernelsOptions = {}): boolean {
  if (options.force === true) forced = true;
  if (!patchesAllowed(FAST_WASM_KERNELS_FEATURE,
                      {force: forced, howToForce: 'call tfv.enableFastWasmKernels({force: true})'})) {
    syncFlag();
    return false;
  }
  refusedDefault = false;
  enabled = true;
  if (tf.getKernel(SETUP_HOOK_KERNEL, BACKEND) == null) {
    tf.registerKernel({
      kernelName: SETUP_HOOK_KERNEL,
      backendName: BACKEND,
      kernelFunc: () => {
        throw new Error(`${SETUP_HOOK_KERNEL} is a setup hook of tfjs-variational, not a kernel`);
      },
      setupFunc: () => {
        if (enabled) wrapKernels();
      },
    });
  }
  enableFusedAdam(BACKEND);
  syncFlag();
  return wrapKernels();
}

/** Restores the wasm backend's own kernels. Safe to call repeatedly. */
export function disableFastWasmKernels(): void {
  enabled = false;
  refusedDefault = false;
  disableFusedAdam(BACKEND);
  if (tf.getKernel(SETUP_HOOK_KERNEL, BACKEND) != null) {
    tf.unregisterKernel(SETUP_HOOK_KERNEL, BACKEND);
  }
  for (const name of Object.keys(WRAPPERS)) {
    const current = tf.getKernel(name, BACKEND);
    const original = originalOf(current);
    // Leave the entry alone when someone else has replaced our wrapper since.
    if (original != null) {
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel(original);
    }
  }
  syncFlag();
}

/** Whether the fast kernels are switched on (they act on the wasm backend only). */
export function isFastWasmKernelsEnabled(): boolean {
  return enabled;
}

/** Whether the wasm kernels are replaced right now (false until the wasm backend has registered its kernels). */
export function isFastWasmKernelsActive(): boolean {
  return Object.keys(WRAPPERS).every((name) => {
    const current = tf.getKernel(name, BACKEND);
    return originalOf(current) != null;
  });
}

/** A copy of the rewrite counters. */
export function getFastWasmKernelsStats(): FastWasmKernelsStats {
  return {...stats, adam: fusedAdamUpdates()};
}

/**
 * The package-import default: registers the `TFV_WASM_FAST_KERNELS` flag and
 * enables the fast kernels unless the flag was already set to false (for example
 * from the page URL's `tfjsflags`).
 */
export function applyFastWasmKernelsDefault(): void {
  registerFlag();
  const flags = tf.env().getFlags();
  if (!(FAST_WASM_KERNELS_FLAG in flags) || flags[FAST_WASM_KERNELS_FLAG] !== false) {
    refusedDefault = !enableFastWasmKernels() && !enabled;
  }
}

// `tf.env().set('TFV_ALLOW_UNTESTED_TFJS', true)` after the import installs what the version check kept off.
onUntestedTfjsAllowed(() => {
  if (refusedDefault) enableFastWasmKernels();
});

function registerFlag(): void {
  if (flagRegistered) return;
  flagRegistered = true;
  tf.env().registerFlag(FAST_WASM_KERNELS_FLAG, () => enabled, (value) => {
    if (syncingFlag) return;
    if (value) {
      enableFastWasmKernels();
    } else {
      disableFastWasmKernels();
    }
  });
}

/** Keeps the flag's value equal to the state after a direct call. */
function syncFlag(): void {
  registerFlag();
  syncingFlag = true;
  try {
    tf.env().set(FAST_WASM_KERNELS_FLAG, enabled);
  } finally {
    syncingFlag = false;
  }
}

/** Wraps the registered wasm kernels that are not wrapped yet; true when all are wrapped. */
function wrapKernels(): boolean {
  let all = true;
  for (const name of Object.keys(WRAPPERS)) {
    const current = tf.getKernel(name, BACKEND);
    if (current == null) {
      all = false;
    } else if (originalOf(current) == null) {
      const wrapper = fastConfig(current);
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel(wrapper);
    }
  }
  return all;
}

function originalOf(config: tf.KernelConfig|undefined): tf.KernelConfig|undefined {
  return config == null ? undefined : (config as WrapperConfig)[ORIGINAL];
}

function fastConfig(original: tf.KernelConfig): WrapperConfig {
  const wrapper: WrapperConfig = {
    kernelName: original.kernelName,
    backendName: original.backendName,
    kernelFunc: (params) => WRAPPERS[original.kernelName](original, params),
  };
  Object.defineProperty(wrapper, ORIGINAL, {value: original});
  // Still set up by tfjs-core when the backend (re)initialises.
  if (original.setupFunc != null) wrapper.setupFunc = original.setupFunc;
  if (original.disposeFunc != null) wrapper.disposeFunc = original.disposeFunc;
  return wrapper;
}

type KernelParams = Parameters<tf.KernelFunc>[0];
type Wrapper = (original: tf.KernelConfig, params: KernelParams) => tf.TensorInfo|tf.TensorInfo[];

/** The operands of a product and its sizes: `[batchA, m, k]·[batchB, k, n]` after the flags. */
interface Product {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  m: number;
  k: number;
  n: number;
  batchA: number;
  batchB: number;
  /** The broadcast batch shape of the output (`[]` for two matrices). */
  batchShape: number[];
  /** `[...batchShape, m, n]`. */
  outShape: number[];
}

/**
 * The product's operands and sizes when it is one this module computes:
 * float32 operands of rank 2 or more whose batch shapes broadcast and whose
 * inner dimensions agree; `null` otherwise (the caller hands those to the
 * kernel it replaces, or throws tfjs's error).
 */
function product(params: KernelParams): Product|null {
  const {a, b} = params.inputs;
  const attrs = params.attrs ?? {};
  if (a == null || b == null || a.dtype !== 'float32' || b.dtype !== 'float32' ||
      a.shape.length < 2 || b.shape.length < 2) {
    return null;
  }
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const k = a.shape[transposeA ? rankA - 2 : rankA - 1];
  if (b.shape[transposeB ? rankB - 1 : rankB - 2] !== k) return null;
  let batchShape: number[];
  try {
    batchShape = tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch {
    return null;
  }
  const m = a.shape[transposeA ? rankA - 1 : rankA - 2];
  const n = b.shape[transposeB ? rankB - 2 : rankB - 1];
  return {
    a, b, transposeA, transposeB, m, k, n,
    batchA: tf.util.sizeFromShape(a.shape.slice(0, -2)),
    batchB: tf.util.sizeFromShape(b.shape.slice(0, -2)),
    batchShape,
    outShape: [...batchShape, m, n],
  };
}

/**
 * `BatchMatMul`. Whatever `product` declines (other dtypes, ranks below 2,
 * batch shapes that do not broadcast, inner dimensions that differ) goes to
 * the wasm kernel, which throws tfjs's own error for it (`Error in matMul:
 * inner shapes (3) and (4) of Tensors with shapes 2,3 and 4,2 and
 * transposeA=false and transposeB=false must match.`).
 */
function batchMatMul(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const p = product(params);
  if (p == null) return original.kernelFunc(params);
  const ours = simdProduct(params, p, null, false);
  if (ours != null) return ours;
  // Without the SIMD module: XNNPACK through the wasm kernel, which handles a
  // batch size of one on either side or equal batch sizes.
  if (p.k === 0) return zeros(params.backend as unknown as WasmBackendLike, p.outShape);
  const total = tf.util.sizeFromShape(p.batchShape);
  if (!((p.batchA === total || p.batchA === 1) && (p.batchB === total || p.batchB === 1))) {
    // Batches broadcast both ways ([2, 1] with [1, 3]): the wasm kernel indexes them modulo their
    // sizes and allocates max(batchA, batchB) matrices for an output of batchA·batchB. Repeat both
    // operands to the output's batch shape first.
    return tiledProduct(original, params, p);
  }
  const copied = (p.transposeA ? p.batchA * p.m * p.k : 0) + (p.transposeB ? p.batchB * p.k * p.n : 0);
  if (copied > 0) {
    const work = Math.max(p.batchA, p.batchB) * p.m * p.k * p.n;
    if (work < MIN_WORK_PER_COPIED_ELEMENT * copied) {
      stats.passedThrough++;
      return original.kernelFunc(params);
    }
  } else if (!(p.batchA > 1 && p.batchB === 1)) {
    return original.kernelFunc(params);
  }
  return viaXnnpack(original, params, p);
}

/** The activations of tfjs-core's fused ops (`fused_types.ts`), which the wasm kernel also knows. */
const FUSED_ACTIVATIONS: readonly string[] = ['linear', 'relu', 'relu6', 'prelu', 'leakyrelu', 'sigmoid', 'elu'];

/**
 * `_FusedMatMul`. tfjs-core's `fused.matMul` op validates its operands before
 * it runs the kernel (and hands the kernel rank-3 operands); the wasm kernel
 * itself checks only dtypes, a rank-1 bias and the activation, and computes
 * garbage — reading past its operands — for inner dimensions that differ. So
 * here the op's checks are made again, with the op's messages, for callers
 * of `runKernel`: inner dimensions, broadcastable batch shapes, a bias that
 * broadcasts to the output, weights for `prelu`. Operands of rank 2 or more
 * are computed as the cpu backend does (`BatchMatMul`, `Add`, activation).
 */
function fusedMatMul(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {a, b, bias, preluActivationWeights} = params.inputs;
  const attrs = params.attrs ?? {};
  const activation = String(attrs.activation ?? 'linear');
  if (a == null || b == null || a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 ||
      b.shape.length < 2 || !FUSED_ACTIVATIONS.includes(activation)) {
    return original.kernelFunc(params);  // its dtype, rank or activation error
  }
  const p = product(params);
  if (p == null) throw fusedShapeError(a, b, attrs.transposeA === true, attrs.transposeB === true);
  if (bias != null) tf.broadcast_util.assertAndGetBroadcastShape(p.outShape, bias.shape);
  if (activation === 'prelu') {
    if (preluActivationWeights == null) {
      throw new Error(`_FusedMatMul: activation 'prelu' needs the input preluActivationWeights; received none`);
    }
    // As the cpu kernel's Prelu: weights that do not broadcast to the output are an error (the wasm
    // kernel applies them modulo their size).
    const outShape = bias == null ? p.outShape : tf.broadcast_util.assertAndGetBroadcastShape(p.outShape, bias.shape);
    tf.broadcast_util.assertAndGetBroadcastShape(outShape, preluActivationWeights.shape);
  }
  // Bias (one float32 per output column) and relu are applied inside the
  // product; anything else by the kernels of the unfused ops after it.
  const biasInKernel = bias == null ||
      (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === p.n && bias.shape.length <= p.outShape.length &&
       (p.n === 0 || bias.shape[bias.shape.length - 1] === p.n));
  if (canRunSimdProduct(params.backend)) {
    if (biasInKernel && (activation === 'linear' || activation === 'relu')) {
      const out = simdProduct(params, p, bias ?? null, activation === 'relu');
      if (out != null) return out;
    }
    return unfused(params, p);
  }
  // The wasm kernel reads rank-3 operands, a rank-1 bias of n values and
  // XNNPACK's batch rules; and its own loop (any flag, a batch) is wrong.
  const kernelCan = a.shape.length === 3 && b.shape.length === 3 && p.batchB === 1 && activation !== 'prelu' && p.k > 0 &&
      (bias == null || (bias.shape.length === 1 && bias.shape[0] === p.n && bias.dtype === 'float32'));
  if (!kernelCan) return unfused(params, p);
  if (!p.transposeA && !p.transposeB && p.batchA <= 1) return original.kernelFunc(params);
  return viaXnnpack(original, params, p);
}

/** Whether `shape`, without its leading 1s, is the end of `of` (so that it repeats over the flat `of`). */
function isTrailingShape(shape: number[], of: number[]): boolean {
  let start = 0;
  while (start < shape.length && shape[start] === 1) start++;
  const rest = shape.slice(start);
  return rest.length <= of.length && tf.util.arraysEqual(rest, of.slice(of.length - rest.length));
}

/** The product of `p` with both operands repeated (wasm `Tile`) to the output's batch shape. */
function tiledProduct(original: tf.KernelConfig, params: KernelParams, p: Product): tf.TensorInfo|tf.TensorInfo[] {
  const tile = tf.getKernel(tf.Tile, BACKEND);
  if (tile == null) return original.kernelFunc(params);
  const backend = params.backend as unknown as WasmBackend;
  const temporaries: tf.TensorInfo[] = [];
  const repeated = (x: tf.TensorInfo): tf.TensorInfo => {
    const batch = x.shape.slice(0, -2);
    const padded = [...new Array(p.batchShape.length - batch.length).fill(1), ...batch];
    const view = {dataId: x.dataId, dtype: x.dtype, shape: [...padded, ...x.shape.slice(-2)]};
    const reps = [...p.batchShape.map((d, i) => (padded[i] === 1 ? d : 1)), 1, 1];
    const out = tile.kernelFunc({inputs: {x: view}, backend: params.backend, attrs: {reps}}) as tf.TensorInfo;
    temporaries.push(out);
    return out;
  };
  try {
    return original.kernelFunc({...params, inputs: {...params.inputs, a: repeated(p.a), b: repeated(p.b)}});
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/** A float32 tensor of zeros. (The wasm product leaves its output uninitialised when k is 0.) */
function zeros(backend: WasmBackendLike, shape: number[]): tf.TensorInfo {
  const out = backend.makeOutput(shape, 'float32');
  if (tf.util.sizeFromShape(shape) > 0) backend.typedArrayFromHeap(out).fill(0);
  return out;
}

/** The error of tfjs-core's `fused.matMul` op for operands that cannot be multiplied. */
function fusedShapeError(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): Error {
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  const innerA = transposeA ? a.shape[rankA - 2] : a.shape[rankA - 1];
  const innerB = transposeB ? b.shape[rankB - 1] : b.shape[rankB - 2];
  if (innerA !== innerB) {
    return new Error(`Error in fused matMul: inner shapes (${innerA}) and (${innerB}) of Tensors with shapes ` +
                     `${a.shape} and ${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`);
  }
  try {
    tf.broadcast_util.assertAndGetBroadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  } catch (e) {
    return e as Error;
  }
  return new Error(`_FusedMatMul: expected inputs a and b whose product is defined, received shapes ${a.shape} and ` +
                   `${b.shape} (transposeA=${transposeA}, transposeB=${transposeB})`);
}

/** @internal Test hook: `true` makes the products take the path of backends without the SIMD module (XNNPACK). */
export function _setSimdProductDisabled(disabled: boolean): void {
  simdProductDisabled = disabled;
}
let simdProductDisabled = false;

/** Whether `simd_kernels.wat`'s product can run on this backend (SIMD module, and one thread: XNNPACK uses a pool). */
function canRunSimdProduct(backend: unknown): boolean {
  if (simdProductDisabled) return false;
  const wasm = (backend as {wasm?: {tfjs?: {getThreadsCount?: () => number}}}).wasm;
  const threads = wasm?.tfjs?.getThreadsCount?.() ?? 1;
  return threads <= 1 && simdKernelsFor(backend) != null;
}

/**
 * The product through `gemm` of `simd_kernels.wat`, or `null` when it does not
 * apply (no SIMD module, a multi-threaded backend). Flagged operands are
 * transposed first (SIMD tiles); a `[B, m, k]·[k, n]` product is one
 * `[B·m, k]·[k, n]` product; otherwise each output matrix is the product of
 * the matrices its batch index broadcasts from. `p` is a valid product
 * (`product`): every offset below stays inside its operand.
 *
 * Why not XNNPACK: the wasm backend hands XNNPACK the right operand as
 * weights to pack, and packs them anew for every tensor it has not seen —
 * about 3 ms for 784×512 (a GEMM of 256 rows by them takes 8–9 ms) — and in
 * training every right operand is new: the weights change every step, and
 * the backward products multiply by gradients. `gemm` packs its right operand
 * in panels of 8 columns in a fraction of a millisecond and then runs at the
 * speed of XNNPACK's cached product (`bench/matmul_transpose.mjs`).
 */
function simdProduct(params: KernelParams, p: Product, bias: tf.TensorInfo|null, relu: boolean): tf.TensorInfo|null {
  const backend = params.backend as unknown as WasmBackendLike;
  if (!canRunSimdProduct(backend)) return null;
  const simd = simdKernelsFor(backend)!;
  const {m, k, n} = p;
  const batches = tf.util.sizeFromShape(p.batchShape);
  const out = backend.makeOutput(p.outShape, 'float32');
  if (batches * m * n === 0) return out;
  const temporaries: tf.TensorInfo[] = [];
  try {
    const a = p.transposeA ? transposedCopy(backend, simd, p.a, temporaries) : p.a;
    const b = p.transposeB ? transposedCopy(backend, simd, p.b, temporaries) : p.b;
    const pack = backend.makeOutput([8 * Math.ceil(n / 8) * (k + 1) + 8], 'float32');
    temporaries.push(pack);
    // Offsets once everything is allocated (allocations may grow the heap; offsets stay).
    const [aAt, bAt, outAt, packAt] = [a, b, out, pack].map((t) => heapOffset(backend, t));
    // k = 0: a and b hold no values (their offsets may be anything); gemm reads neither.
    const biasAt = bias == null || n === 0 ? 0 : heapOffset(backend, bias);
    if (p.batchB === 1) {
      // [B, m, k]·[k, n]: the rows of a are those of one [B·m, k] matrix (batchA = batches).
      simd.gemm(aAt, bAt, outAt, batches * m, k, n, biasAt, relu ? 1 : 0, packAt);
      if (batches > 1) stats.folded++;
    } else {
      const aIndex = batchIndices(p.a.shape.slice(0, -2), p.batchShape);
      const bIndex = batchIndices(p.b.shape.slice(0, -2), p.batchShape);
      for (let i = 0; i < batches; i++) {
        simd.gemm(aAt + aIndex[i] * m * k * 4, bAt + bIndex[i] * k * n * 4, outAt + i * m * n * 4,
                  m, k, n, biasAt, relu ? 1 : 0, packAt);
      }
    }
    if (temporaries.length > 1) stats.transposed++;
    stats.simd++;
    return out;
  } catch (e) {
    backend.disposeData(out.dataId);
    throw e;
  } finally {
    for (const t of temporaries) backend.disposeData(t.dataId);
  }
}

/**
 * For each flat index of the broadcast batch shape `outShape`, the flat index
 * of the operand's batch (shape `shape`, which broadcasts to `outShape`: its
 * axes are aligned at the end, a size-1 axis repeats).
 */
function batchIndices(shape: number[], outShape: number[]): Int32Array {
  const total = tf.util.sizeFromShape(outShape);
  const indices = new Int32Array(total);
  const offset = outShape.length - shape.length;
  const strides = tf.util.computeStrides(shape);
  const outStrides = tf.util.computeStrides(outShape);
  for (let i = 0; i < total; i++) {
    let rest = i;
    let at = 0;
    for (let d = 0; d < outShape.length; d++) {
      const coordinate = d < outShape.length - 1 ? Math.floor(rest / outStrides[d]) : rest;
      if (d < outShape.length - 1) rest -= coordinate * outStrides[d];
      const sd = d - offset;
      if (sd >= 0 && shape[sd] !== 1) at += coordinate * (sd < shape.length - 1 ? strides[sd] : 1);
    }
    indices[i] = at;
  }
  return indices;
}

/** A copy of `x` with its last two axes swapped (kept in `temporaries` for disposal). */
function transposedCopy(backend: WasmBackendLike, simd: SimdKernels, x: tf.TensorInfo,
                        temporaries: tf.TensorInfo[]): tf.TensorInfo {
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const out = backend.makeOutput([...x.shape.slice(0, -2), cols, rows], x.dtype);
  temporaries.push(out);
  const size = tf.util.sizeFromShape(x.shape);
  if (size > 0) {
    const from = heapOffset(backend, x);
    const to = heapOffset(backend, out);
    for (let i = 0; i < size / (rows * cols); i++) simd.transpose(from + i * rows * cols * 4, to + i * rows * cols * 4, rows, cols);
  }
  return out;
}

/** Runs `original` with its flags cleared and a batch-1 view of the left operand where possible. */
function viaXnnpack(original: tf.KernelConfig, params: KernelParams, p: Product): tf.TensorInfo|tf.TensorInfo[] {
  const transpose = tf.getKernel(tf.Transpose, BACKEND);
  if (transpose == null && (p.transposeA || p.transposeB)) return original.kernelFunc(params);
  const {inputs, backend, attrs} = params;
  const temporaries: tf.TensorInfo[] = [];
  const swapLastAxes = (x: tf.TensorInfo): tf.TensorInfo => {
    const rank = x.shape.length;
    const perm = x.shape.map((_, i) => i);
    perm[rank - 2] = rank - 1;
    perm[rank - 1] = rank - 2;
    const out = transpose!.kernelFunc({inputs: {x}, backend, attrs: {perm}}) as tf.TensorInfo;
    temporaries.push(out);
    return out;
  };
  try {
    let a = p.transposeA ? swapLastAxes(p.a) : p.a;
    const b = p.transposeB ? swapLastAxes(p.b) : p.b;
    if (temporaries.length > 0) stats.transposed++;
    // [B, m, k]·[1, k, n] = one [B·m, k]·[k, n] product: the rows of a
    // row-major [B, m, k] are those of a [B·m, k] matrix, and the output's
    // [B·m, n] rows are those of [B, m, n]. PReLU weights are applied to the
    // flat output modulo their size, which the view does not change.
    let outShape: number[]|undefined;
    if (p.batchA > 1 && p.batchB === 1) {
      outShape = tf.broadcast_util.assertAndGetBroadcastShape(p.a.shape.slice(0, -2), p.b.shape.slice(0, -2))
                     .concat([p.m, p.n]);
      a = {dataId: a.dataId, dtype: a.dtype, shape: [1, p.batchA * p.m, p.k]};
      stats.folded++;
    }
    const out = original.kernelFunc({
      inputs: {...inputs, a, b},
      backend,
      attrs: {...attrs, transposeA: false, transposeB: false},
    }) as tf.TensorInfo;
    if (outShape != null) out.shape = outShape;
    return out;
  } finally {
    for (const t of temporaries) (backend as WasmBackend).disposeData(t.dataId);
  }
}

/** `_FusedMatMul` as `BatchMatMul`, then `Add` and the activation kernel (used for batched right operands). */
function unfused(params: KernelParams, p: Product): tf.TensorInfo {
  const {inputs, backend} = params;
  const attrs = params.attrs ?? {};
  const run = (kernelName: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs: tf.NamedAttrMap = {}) => {
    const kernel = tf.getKernel(kernelName, BACKEND);
    if (kernel == null) throw new Error(`kernel '${kernelName}' is not registered for backend '${BACKEND}'`);
    return kernel.kernelFunc({inputs: kernelInputs, backend, attrs: kernelAttrs}) as tf.TensorInfo;
  };
  stats.unfused++;
  let out = run(tf.BatchMatMul, {a: p.a, b: p.b}, {transposeA: p.transposeA, transposeB: p.transposeB});
  const finalShape = inputs.bias == null ? out.shape : tf.broadcast_util.assertAndGetBroadcastShape(out.shape, inputs.bias.shape);
  if (tf.util.sizeFromShape(finalShape) === 0) {
    // No values: the bias and activation kernels have nothing to do (the wasm Prelu kernel traps on them).
    (backend as WasmBackend).disposeData(out.dataId);
    return (backend as WasmBackend).makeOutput(finalShape, 'float32');
  }
  const then = (kernelName: string, kernelInputs: tf.NamedTensorInfoMap, kernelAttrs?: tf.NamedAttrMap) => {
    let next: tf.TensorInfo;
    try {
      next = run(kernelName, kernelInputs, kernelAttrs);
    } catch (e) {
      (backend as WasmBackend).disposeData(out.dataId);
      throw e;
    }
    if (next.dataId !== out.dataId) (backend as WasmBackend).disposeData(out.dataId);
    out = next;
  };
  if (inputs.bias != null) then(tf.Add, {a: out, b: inputs.bias});
  const activation = attrs.activation ?? 'linear';
  switch (activation) {
    case 'linear':
      break;
    case 'relu':
      then(tf.Relu, {x: out});
      break;
    case 'relu6':
      then(tf.Relu6, {x: out});
      break;
    case 'elu':
      then(tf.Elu, {x: out});
      break;
    case 'sigmoid':
      then(tf.Sigmoid, {x: out});
      break;
    case 'leakyrelu':
      // As the wasm kernel reads it (the op always passes one; 0.2 by default).
      then(tf.LeakyRelu, {x: out}, {alpha: (attrs.leakyreluAlpha as number|undefined) || 0});
      break;
    case 'prelu': {
      const alpha = inputs.preluActivationWeights!;
      if (isTrailingShape(alpha.shape, out.shape) ||
          !tf.util.arraysEqual(tf.broadcast_util.assertAndGetBroadcastShape(out.shape, alpha.shape), out.shape)) {
        // The wasm Prelu kernel applies the weights to the flat output modulo their size: right when
        // they are the output's trailing axes. (Weights that enlarge the output: its result as well.)
        then(tf.Prelu, {x: out, alpha});
      } else {
        // Weights broadcast along other axes (e.g. one per row): select(x < 0, alpha·x, x), which also
        // keeps NaN as the cpu kernel does.
        const zero = (backend as WasmBackend).makeOutput([], 'float32');
        (backend as WasmBackend).typedArrayFromHeap(zero)[0] = 0;
        const x = out;
        let scaled: tf.TensorInfo|null = null;
        let negative: tf.TensorInfo|null = null;
        try {
          try {
            scaled = run(tf.Multiply, {a: x, b: alpha});
            negative = run(tf.Less, {a: x, b: zero});
          } catch (e) {
            (backend as WasmBackend).disposeData(x.dataId);
            throw e;
          }
          then(tf.Select, {condition: negative, t: scaled, e: x});
        } finally {
          for (const t of [zero, scaled, negative]) if (t != null) (backend as WasmBackend).disposeData(t.dataId);
        }
      }
      break;
    }
    default:
      (backend as WasmBackend).disposeData(out.dataId);
      throw new Error(`_FusedMatMul: unknown activation '${String(activation)}'`);
  }
  return out;
}

/**
 * `GatherV2` without batch axes as row copies. The wasm kernel moves ~70 ns
 * per element (12 ms for the 256×784 batch `model.fit` gathers from its
 * inputs and again from its targets every step); copying `inner`-long runs of
 * the heap takes 0.3 ms.
 */
function gather(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {inputs, attrs} = params;
  const backend = params.backend as Partial<WasmBackend>;
  const {x, indices} = inputs;
  if (x == null || indices == null || (attrs?.batchDims ?? 0) !== 0 || indices.dtype !== 'int32' ||
      !HEAP_DTYPES.includes(x.dtype) || backend.makeOutput == null || backend.typedArrayFromHeap == null) {
    return original.kernelFunc(params);
  }
  // Anything invalid (an axis out of range, an index outside [0, dim - 1])
  // goes to the wasm kernel, which throws tfjs's error for it.
  const axisParam = attrs?.axis as number;
  if (!Number.isInteger(axisParam) || axisParam < -x.shape.length || axisParam >= x.shape.length) {
    return original.kernelFunc(params);
  }
  const axis = tf.util.parseAxisParam(axisParam, x.shape)[0];
  const dim = x.shape[axis];
  const idx = backend.typedArrayFromHeap(indices).slice();
  for (const i of idx) {
    if (!(i >= 0 && i <= dim - 1)) return original.kernelFunc(params);
  }
  if (tf.util.sizeFromShape(x.shape) === 0) {
    // Nothing to copy. (The wasm kernel returns its flattened 4-D shape here instead of the gather's.)
    const shape = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as tf.Tensor, indices as tf.Tensor, axis, 0).outputShape;
    stats.copied++;
    return backend.makeOutput(shape, x.dtype);
  }
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
  // Byte offsets after makeOutput; one view of the whole heap, rows moved with copyWithin (no view per row).
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  const bytes = from.BYTES_PER_ELEMENT;
  const heap = new Uint8Array(from.buffer);
  const rowBytes = inner * bytes;
  let o = to.byteOffset;
  for (let b = 0; b < outer; b++) {
    const base = from.byteOffset + b * dim * rowBytes;
    for (let j = 0; j < idx.length; j++) {
      const start = base + idx[j] * rowBytes;
      heap.copyWithin(o, start, start + rowBytes);
      o += rowBytes;
    }
  }
  stats.copied++;
  return out;
}

/**
 * `Slice` without copying the whole input out of the heap first. The wasm
 * kernel reads all of `x` into JavaScript before copying the slice, so a batch
 * of 256 rows sliced from 10,000×784 images costs 14 ms (and grows with the
 * data set); copying only the slice's rows takes 0.1 ms.
 */
function slice(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {inputs, attrs} = params;
  const backend = params.backend as Partial<WasmBackend>;
  const {x} = inputs;
  if (x == null || attrs == null || !HEAP_DTYPES.includes(x.dtype) || backend.makeOutput == null ||
      backend.typedArrayFromHeap == null) {
    return original.kernelFunc(params);
  }
  // tfjs's parsing and checks (those of the cpu kernel: the wasm kernel
  // makes none, reading a copy of x in JavaScript, where an overflowing
  // slice reads undefined instead of the neighbouring tensors' memory).
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number|number[], attrs.size as number|number[]);
  tf.slice_util.assertParamsValid(x, begin, size);
  const rank = x.shape.length;
  for (let d = 0; d < rank; d++) {
    // What assertParamsValid lets through (negative or fractional begins or sizes) stays the wasm kernel's.
    if (!(Number.isInteger(begin[d]) && Number.isInteger(size[d]) && begin[d] >= 0 && size[d] >= 0 &&
          begin[d] + size[d] <= x.shape[d])) {
      return original.kernelFunc(params);
    }
  }
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  if (rank === 0) {
    // A scalar's slice is the scalar. (tfjs's computeFlatOffset gives 1 for no axes: the wasm and cpu
    // kernels read the element after it.)
    to[0] = from[0];
    stats.copied++;
    return out;
  }
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const start = tf.slice_util.computeFlatOffset(begin, strides);
    to.set(from.subarray(start, start + to.length));
    stats.copied++;
    return out;
  }
  // Copy runs along the last axis; `index` walks the slice's other axes like an odometer.
  const run = size[rank - 1];
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let o = 0; o < to.length; o += run) {
    let start = begin[rank - 1];
    for (let d = 0; d < rank - 1; d++) start += (begin[d] + index[d]) * strides[d];
    to.set(from.subarray(start, start + run), o);
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d] < size[d]) break;
      index[d] = 0;
    }
  }
  stats.copied++;
  return out;
}

const HEAP_DTYPES: readonly tf.DataType[] = ['float32', 'int32', 'bool'];

/**
 * `Identity`, and `Cast` to the dtype a tensor already has, share the input's
 * memory (reference counted, as the wasm `Reshape` kernel and the cpu
 * backend's identity do) instead of copying it: tfjs-layers and the gradient
 * code call them some thirty times per training step of a small VAE, on
 * tensors up to 784×512 — 2 ms of copying per step. Kernels never write into
 * their inputs, so sharing is safe; other casts keep the wasm kernel.
 */
function shareData(params: KernelParams): tf.TensorInfo {
  const x = params.inputs.x!;
  (params.backend as unknown as {incRef(dataId: tf.DataId): void}).incRef(x.dataId);
  stats.copied++;
  return {dataId: x.dataId, shape: x.shape, dtype: x.dtype};
}

function identity(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  if (x == null || !HEAP_DTYPES.includes(x.dtype) || typeof (params.backend as {incRef?: unknown}).incRef !== 'function') {
    return original.kernelFunc(params);
  }
  return shareData(params);
}

function cast(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  // `identity` falls back to `original`, here the wasm Cast kernel.
  return params.attrs?.dtype === params.inputs.x?.dtype ? identity(original, params) : original.kernelFunc(params);
}

/**
 * `Transpose` of the last two axes (a batch of matrices, as every transposed
 * product needs) by 4×4 SIMD tiles: 0.75 ms for 256×784 in the wasm kernel,
 * which walks the output element by element; other permutations keep the
 * wasm kernel. Bits are copied, so the result is exact.
 */
function transpose(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  const perm = params.attrs?.perm as number[]|undefined;
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (x != null && perm != null && HEAP_DTYPES.includes(x.dtype) && tf.util.sizeFromShape(x.shape) === 0 &&
      isPermutation(perm, x.shape.length)) {
    // Nothing to move. (The wasm kernel traps, 'divide by zero', on a 0-sized axis.)
    stats.copied++;
    return backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  }
  if (simd == null || x == null || perm == null || (x.dtype !== 'float32' && x.dtype !== 'int32') ||
      !swapsLastTwoAxes(perm, x.shape.length)) {
    return original.kernelFunc(params);
  }
  const rank = x.shape.length;
  const rows = x.shape[rank - 2];
  const cols = x.shape[rank - 1];
  const out = backend.makeOutput(perm.map((p) => x.shape[p]), x.dtype);
  const size = tf.util.sizeFromShape(x.shape);
  if (size > 0) {
    const from = heapOffset(backend, x);
    const to = heapOffset(backend, out);
    const matrixBytes = rows * cols * 4;
    for (let b = 0; b < size / (rows * cols); b++) {
      simd.transpose(from + b * matrixBytes, to + b * matrixBytes, rows, cols);
    }
  }
  stats.simd++;
  return out;
}

/** Whether `perm` lists each of 0, …, rank − 1 once. */
function isPermutation(perm: number[], rank: number): boolean {
  if (!Array.isArray(perm) || perm.length !== rank) return false;
  const seen = new Set<number>();
  for (const p of perm) {
    if (!Number.isInteger(p) || p < 0 || p >= rank || seen.has(p)) return false;
    seen.add(p);
  }
  return true;
}

function swapsLastTwoAxes(perm: number[], rank: number): boolean {
  if (rank < 2 || perm.length !== rank) return false;
  for (let i = 0; i < rank - 2; i++) {
    if (perm[i] !== i) return false;
  }
  return perm[rank - 2] === rank - 1 && perm[rank - 1] === rank - 2;
}

/**
 * `Sum` over leading axes (the bias gradients of every dense layer: a
 * `[batch, units]` gradient summed over the batch) as SIMD column sums in
 * one pass over the input. The wasm kernel transposes the input first and
 * then sums rows: 0.9 ms for 256×784 against 0.2 ms. Sums over other axes
 * keep the wasm kernel. Each column is summed in row order, as the cpu
 * backend does; the wasm kernel's order differs, so results agree up to
 * float32 rounding.
 */
function sum(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  const attrs = params.attrs ?? {};
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (simd == null || x == null || (x.dtype !== 'float32' && x.dtype !== 'int32')) return original.kernelFunc(params);
  const axisParam = attrs.axis as number|number[]|null|undefined;
  // No axis: all of them (tfjs's parseAxisParam).
  const listed = axisParam == null ? [] : Array.isArray(axisParam) ? axisParam : [axisParam];
  // Axes out of range or not integers: the wasm kernel throws tfjs's error. Repeated axes: its result.
  if (listed.some((a) => !Number.isInteger(a) || a < -x.shape.length || a >= x.shape.length)) {
    return original.kernelFunc(params);
  }
  const parsed = tf.util.parseAxisParam(axisParam as number|number[], x.shape);
  const axes = [...new Set(parsed)].sort((p, q) => p - q);
  const reduced = axes.length;
  // Repeated axes: the wasm kernel's result (its own shapes), whatever it is.
  if (reduced !== parsed.length) return original.kernelFunc(params);
  if (tf.util.sizeFromShape(x.shape) === 0) {
    // Sums of no elements are 0. (The wasm kernel leaves its output uninitialised here, or traps
    // transposing a 0-sized axis.)
    const [kept] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
    const out = backend.makeOutput(attrs.keepDims === true ? tf.backend_util.expandShapeToKeepDim(kept, axes) : kept,
                                   x.dtype);
    backend.typedArrayFromHeap(out).fill(0);
    stats.simd++;
    return out;
  }
  if (x.dtype !== 'float32' || x.shape.length < 2 || reduced === 0 || reduced === x.shape.length ||
      axes.some((a, i) => a !== i)) {
    return original.kernelFunc(params);
  }
  const rows = tf.util.sizeFromShape(x.shape.slice(0, reduced));
  const cols = tf.util.sizeFromShape(x.shape.slice(reduced));
  const kept = x.shape.slice(reduced);
  const out = backend.makeOutput(attrs.keepDims === true ? [...axes.map(() => 1), ...kept] : kept, 'float32');
  if (cols > 0) simd.colsum(heapOffset(backend, x), heapOffset(backend, out), rows, cols);
  stats.simd++;
  return out;
}

/**
 * `Softplus` by the SIMD module: max(x, 0) + log1p(exp(−|x|)) with its own
 * vectorised exp and log1p (`simd_kernels.wat`), within a few float32 ulps
 * of float64 everywhere (results below the smallest normal float flush to
 * 0; NaN stays NaN). The wasm kernel calls the C library's exp and log per
 * element: 4–6 ms for 256×784 — the Bernoulli likelihood's whole cost — against
 * about 0.5 ms. (Composing the backend's `Exp` and `Log1p` kernels is no
 * way out: its `Log1p` computes log(1 + x) and returns 0 for x below 6e-8.)
 */
function softplus(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const {x} = params.inputs;
  const backend = params.backend as unknown as WasmBackendLike;
  const simd = simdKernelsFor(backend);
  if (simd == null || x == null || x.dtype !== 'float32') return original.kernelFunc(params);
  const out = backend.makeOutput(x.shape, 'float32');
  const n = tf.util.sizeFromShape(x.shape);
  if (n > 0) simd.softplus(heapOffset(backend, x), heapOffset(backend, out), n);
  stats.simd++;
  return out;
}

/** The wasm kernels replaced, by name. */
const WRAPPERS: Record<string, Wrapper> = {
  [tf.BatchMatMul]: batchMatMul,
  [tf._FusedMatMul]: fusedMatMul,
  [tf.GatherV2]: gather,
  [tf.Slice]: slice,
  [tf.Transpose]: transpose,
  [tf.Sum]: sum,
  [tf.Softplus]: softplus,
  [tf.Identity]: identity,
  [tf.Cast]: cast,
};
