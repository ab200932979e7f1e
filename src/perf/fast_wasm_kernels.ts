/**
 * Fast (and correct) wasm kernels for training: matrix products, transposes,
 * sums, softplus, batch gather and slice; and (fused_adam.ts) Adam updates.
 *
 * The matrix products (`BatchMatMul`, `_FusedMatMul`: why they are
 * replaced, and how) are explained in `wasm_products.ts`.
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
 * - Adam's thirteen elementwise ops per variable: one SIMD pass (fused_adam.ts);
 * - `Conv2DBackpropInput` (a scalar loop in the wasm kernel), and
 *   `Conv2DBackpropFilter`, which the wasm backend lacks (registered only where
 *   it has none): im2col and SIMD products (conv_kernels.ts).
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

import {conv2DBackpropInput, installConv2DBackpropFilter, removeConv2DBackpropFilter} from './conv_kernels';
import {disableFusedAdam, enableFusedAdam, fusedAdamUpdates} from './fused_adam';
import {FastWasmKernelsStats, stats} from './kernel_stats';
import {BACKEND, Wrapper} from './wasm_backend';
import {cast, gather, identity, slice} from './wasm_copies';
import {batchMatMul, fusedMatMul} from './wasm_products';
import {softplus, sum, transpose} from './wasm_simd_ops';

export type {FastWasmKernelsStats} from './kernel_stats';
export {_setSimdProductDisabled} from './simd_product';

/** Name of the tfjs environment flag that switches the wrapping on and off. */
export const FAST_WASM_KERNELS_FLAG = 'TFV_WASM_FAST_KERNELS';

/** Registry entry of ours whose `setupFunc` wraps the kernels when the backend is set. */
const SETUP_HOOK_KERNEL = 'TfvFastWasmKernelsSetup';

/**
 * Marks a wrapper config with the config it wraps. A registered symbol, so that
 * two copies of this library in one process (an ESM and a CJS build) recognise
 * each other's wrappers in tfjs's process-wide kernel registry.
 */
const ORIGINAL: unique symbol = Symbol.for('tfjs-variational.fastWasmKernels.original');

interface WrapperConfig extends tf.KernelConfig {
  [ORIGINAL]?: tf.KernelConfig;
}

let enabled = false;
let flagRegistered = false;
let syncingFlag = false;
/** Set by `enableFastWasmKernels({force: true})`: later calls skip the version check too. */
let forced = false;
/** The import default was refused by the version check (and nobody has switched the kernels off since). */
let refusedDefault = false;

/** What the version check (`src/util/tfjs_version.ts`) names when it keeps the kernels off. */
export const FAST_WASM_KERNELS_FEATURE =
    'the fast wasm kernels (BatchMatMul, _FusedMatMul, GatherV2, Slice, Transpose, Sum, Softplus, Identity, Cast, ' +
    'Conv2DBackpropInput, Conv2DBackpropFilter) ' +
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
 * `Sum`, `Softplus`, `GatherV2`, `Slice`, `Identity`, `Cast` and
 * `Conv2DBackpropInput` kernels with the faster ones of this module (and, for
 * `_FusedMatMul`, correct ones), adds the `Conv2DBackpropFilter` the wasm
 * backend lacks (only where it has none), and lets Adam update each variable
 * in one pass there. Other backends are not touched. Safe to call repeatedly.
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
  removeConv2DBackpropFilter();
  syncFlag();
}

/** Whether the fast kernels are switched on (they act on the wasm backend only). */
export function isFastWasmKernelsEnabled(): boolean {
  return enabled;
}

/**
 * Whether the wasm kernels are replaced (and a `Conv2DBackpropFilter` registered) right now (false until the wasm
 * backend has registered its kernels).
 */
export function isFastWasmKernelsActive(): boolean {
  return Object.keys(WRAPPERS).every((name) => {
    const current = tf.getKernel(name, BACKEND);
    return originalOf(current) != null;
  }) && tf.getKernel(tf.Conv2DBackpropFilter, BACKEND) != null;
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
  // Added, not wrapped: only where the backend has no kernel of its own (and once its kernels are registered).
  if (!installConv2DBackpropFilter()) all = false;
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
  [tf.Conv2DBackpropInput]: conv2DBackpropInput,
};
