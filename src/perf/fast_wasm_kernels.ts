/**
 * Fast (and correct) wasm kernels for training: matrix products, batch gather, slice.
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
 * once per 48-wide block of the shared dimension instead of once.
 *
 * The fix works below every gradient, at the kernel registry: the wasm kernels
 * `BatchMatMul` and `_FusedMatMul` are replaced by functions that
 *
 *   1. copy each flagged operand into a transposed temporary with the wasm
 *      `Transpose` kernel (last two axes; leading batch axes untouched),
 *   2. view a `[B, m, k]` left operand times a batch-1 right operand as one
 *      `[B·m, k]` matrix (same memory, row-major),
 *   3. call the original kernel with the flags cleared — so XNNPACK runs it —
 *      and give the result its broadcast shape, and
 *   4. free the temporaries with `backend.disposeData`.
 *
 * For `BatchMatMul` a transposed copy costs about as much as the naive loop
 * with four output columns, so it is made only when the product does at least
 * `MIN_WORK_PER_COPIED_ELEMENT` multiply-adds per copied element; smaller
 * products go to the original kernel unchanged. `_FusedMatMul` always avoids
 * the loop: when the right operand has a batch size above one it runs as
 * `BatchMatMul`, then `Add` for the bias, then the activation's own kernel.
 *
 * Two data-movement kernels on the same training path are replaced too:
 * `GatherV2` (how `model.fit` takes each batch from its inputs and targets:
 * 12 ms per 256×784 batch in the wasm kernel, 0.3 ms as row copies) and
 * `Slice` (the wasm kernel copies its whole input out of the heap first: 14 ms
 * for a 256-row batch of a 10,000×784 tensor, 0.1 ms as row copies).
 *
 * Results equal those of tfjs's cpu backend up to float32 summation order
 * (bit for bit for `GatherV2` and `Slice`).
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
  /** `GatherV2` and `Slice` calls done by copying rows of the wasm heap. */
  copied: number;
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

const stats: FastWasmKernelsStats = {transposed: 0, folded: 0, passedThrough: 0, unfused: 0, copied: 0};
let enabled = false;
let flagRegistered = false;
let syncingFlag = false;

/**
 * Replaces the wasm backend's `BatchMatMul`, `_FusedMatMul`, `GatherV2` and
 * `Slice` kernels with the faster ones of this module (and, for
 * `_FusedMatMul`, correct ones). Other backends are not touched. Safe to call
 * repeatedly.
 *
 * @returns `true` when the wasm kernels are wrapped now; `false` when the wasm
 *   backend's kernels are not registered (yet): they are then wrapped when
 *   `tf.setBackend('wasm')` runs.
 */
export function enableFastWasmKernels(): boolean {
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
  syncFlag();
  return wrapKernels();
}

/** Restores the wasm backend's own kernels. Safe to call repeatedly. */
export function disableFastWasmKernels(): void {
  enabled = false;
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
  return {...stats};
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
    enableFastWasmKernels();
  }
}

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
}

function product(params: KernelParams): Product|null {
  const {a, b} = params.inputs;
  const attrs = params.attrs ?? {};
  if (a == null || b == null || a.dtype !== 'float32' || b.dtype !== 'float32' ||
      a.shape.length < 2 || b.shape.length < 2) {
    return null;  // the original kernel reports what is wrong
  }
  const transposeA = attrs.transposeA === true;
  const transposeB = attrs.transposeB === true;
  const rankA = a.shape.length;
  const rankB = b.shape.length;
  return {
    a, b, transposeA, transposeB,
    m: a.shape[transposeA ? rankA - 1 : rankA - 2],
    k: a.shape[transposeA ? rankA - 2 : rankA - 1],
    n: b.shape[transposeB ? rankB - 2 : rankB - 1],
    batchA: tf.util.sizeFromShape(a.shape.slice(0, -2)),
    batchB: tf.util.sizeFromShape(b.shape.slice(0, -2)),
  };
}

function batchMatMul(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const p = product(params);
  if (p == null) return original.kernelFunc(params);
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

function fusedMatMul(original: tf.KernelConfig, params: KernelParams): tf.TensorInfo|tf.TensorInfo[] {
  const p = product(params);
  if (p == null) return original.kernelFunc(params);
  if (p.batchB > 1) return unfused(params, p);
  if (!p.transposeA && !p.transposeB && p.batchA <= 1) return original.kernelFunc(params);
  return viaXnnpack(original, params, p);
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
      then(tf.LeakyRelu, {x: out}, {alpha: attrs.leakyreluAlpha ?? 0.2});
      break;
    case 'prelu':
      then(tf.Prelu, {x: out, alpha: inputs.preluActivationWeights});
      break;
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
      !HEAP_DTYPES.includes(x.dtype) || backend.makeOutput == null || backend.typedArrayFromHeap == null ||
      tf.util.sizeFromShape(x.shape) === 0) {
    return original.kernelFunc(params);
  }
  const axis = tf.util.parseAxisParam(attrs?.axis as number, x.shape)[0];
  const dim = x.shape[axis];
  const idx = backend.typedArrayFromHeap(indices).slice();
  for (const i of idx) {
    if (!(i >= 0 && i <= dim - 1)) throw new Error(`GatherV2: the index value ${i} is not in [0, ${dim - 1}]`);
  }
  const outer = tf.util.sizeFromShape(x.shape.slice(0, axis));
  const inner = tf.util.sizeFromShape(x.shape.slice(axis + 1));
  const out = backend.makeOutput([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], x.dtype);
  // Views after makeOutput: an allocation may grow (and so move) the heap.
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  let o = 0;
  for (let b = 0; b < outer; b++) {
    const base = b * dim * inner;
    for (let j = 0; j < idx.length; j++) {
      const start = base + idx[j] * inner;
      to.set(from.subarray(start, start + inner), o);
      o += inner;
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
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]);
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const from = backend.typedArrayFromHeap(x);
  const to = backend.typedArrayFromHeap(out);
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const start = tf.slice_util.computeFlatOffset(begin, strides);
    to.set(from.subarray(start, start + to.length));
    stats.copied++;
    return out;
  }
  const rank = x.shape.length;
  // Copy runs along the last axis; `index` walks the slice's other axes like an odometer.
  const run = rank === 0 ? 1 : size[rank - 1];
  const index = new Array<number>(Math.max(rank - 1, 0)).fill(0);
  for (let o = 0; o < to.length; o += run) {
    let start = rank === 0 ? 0 : begin[rank - 1];
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

/** The wasm kernels replaced, by name. */
const WRAPPERS: Record<string, Wrapper> = {
  [tf.BatchMatMul]: batchMatMul,
  [tf._FusedMatMul]: fusedMatMul,
  [tf.GatherV2]: gather,
  [tf.Slice]: slice,
};
