/**
 * Backend selection for the Node examples.
 *
 *   chooseBackend('auto')        the fastest available: tfjs-node ('tensorflow') if
 *                                installed, else wasm, else cpu (see AUTO_ORDER)
 *   chooseBackend('tensorflow')  @tensorflow/tfjs-node-gpu, else @tensorflow/tfjs-node (optional peers:
 *                                `npm install @tensorflow/tfjs-node`; both register the 'tensorflow' backend)
 *   chooseBackend('wasm')        @tensorflow/tfjs-backend-wasm
 *   chooseBackend('cpu')         @tensorflow/tfjs-backend-cpu (plain JavaScript)
 *
 * Every backend package is imported dynamically, so a missing optional one
 * only changes the choice in 'auto' mode; naming it explicitly gives a clear error.
 */
import * as tf from '@tensorflow/tfjs-core';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The packages that provide each backend, in the order tried (tfjs-node-gpu is tfjs-node with CUDA). */
const PACKAGES = {
  tensorflow: ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'],
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  cpu: ['@tensorflow/tfjs-backend-cpu'],
};

/**
 * 'auto' tries these in order, fastest first. One training step of this
 * example's model (784-512-2, batch 128, Adam) in Node 20 on 2 cores, wasm and
 * cpu alternated in one process (`node bench/run.mjs backend-step`,
 * bench/results.md): wasm with tfjs-variational's fast kernels (the default)
 * 42 times faster than cpu, wasm without them 5.6 times. wasm runs one thread in Node
 * (tfjs-backend-wasm does not load its threaded build there). tfjs-node is
 * native TensorFlow, multi-threaded; it is not installed here, so it is first
 * on its reputation, not on a measurement of ours.
 */
export const AUTO_ORDER = ['tensorflow', 'wasm', 'cpu'];

/** Step-time ratios to cpu behind AUTO_ORDER (bench/results.md, section backend-step). */
const MEASURED_SPEEDUP_OVER_CPU = {wasmFastKernels: 42, wasmOwnKernels: 5.6};

/** tfjs-variational's `TFV_WASM_FAST_KERNELS` flag: true/false, or undefined when the package is not imported. */
function fastWasmKernels() {
  const flags = tf.env().getFlags();
  return typeof flags.TFV_WASM_FAST_KERNELS === 'boolean' ? flags.TFV_WASM_FAST_KERNELS : undefined;
}

/** Why 'auto' settled on `name`, given why the faster candidates were skipped. */
function autoReason(name, skipped, pkg) {
  const before = skipped.length ? `${skipped.join('; ')}; ` : '';
  switch (name) {
    case 'tensorflow':
      return `auto: ${pkg} is installed (native TensorFlow${pkg.endsWith('-gpu') ? ' with CUDA' : ', multi-threaded'}: the fastest)`;
    case 'wasm': {
      const {wasmFastKernels: fastX, wasmOwnKernels: ownX} = MEASURED_SPEEDUP_OVER_CPU;
      const fast = fastWasmKernels();
      const speed = fast === true ? `about ${fastX}x cpu per training step with tfjs-variational's fast wasm kernels` :
        fast === false ? `about ${ownX}x cpu per training step with the fast wasm kernels switched off, ${fastX}x with them` :
        `about ${ownX}x cpu per training step on its own kernels, ${fastX}x with tfjs-variational's`;
      return `auto: ${before}wasm is the fastest of the rest: ${speed}; SIMD, one thread in Node`;
    }
    default:
      return `auto: ${before}cpu is the slowest backend (plain JavaScript), the last resort`;
  }
}

function messageOf(e) {
  return e && e.message ? e.message.split('\n')[0] : String(e);
}

/**
 * Imports the first package of `name` that loads and makes it the active backend.
 * @returns {Promise<{ok: true, pkg: string} | {ok: false, why: string}>}
 */
async function tryBackend(name) {
  const missing = [];
  let pkg = null;
  for (const candidate of PACKAGES[name]) {
    try {
      await import(candidate);
      pkg = candidate;
      break;
    } catch (e) {
      const absent = e && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND');
      if (!absent) return {ok: false, why: `${candidate} failed to load (${messageOf(e)})`};
      missing.push(candidate);
    }
  }
  if (pkg === null) {
    return {ok: false, why: `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed`};
  }
  if (tf.findBackendFactory(name) == null) {
    // E.g. the package brought its own copy of tfjs-core and registered there.
    return {ok: false, why: `${pkg} loaded but registered no '${name}' backend with this copy of @tensorflow/tfjs-core`};
  }
  try {
    if (!(await tf.setBackend(name))) {
      return {ok: false, why: `the '${name}' backend failed to initialise`};
    }
    await tf.ready();
  } catch (e) {
    return {ok: false, why: `the '${name}' backend failed to initialise (${messageOf(e)})`};
  }
  return {ok: true, pkg};
}

/**
 * Activates a backend.
 * @param {'auto'|'tensorflow'|'wasm'|'cpu'} name
 * @returns {Promise<{backend: string, reason: string}>} the active backend and why it was chosen.
 * @throws {Error} for an unknown name, or when an explicitly requested backend is unavailable.
 */
export async function chooseBackend(name = 'auto') {
  if (!BACKENDS.includes(name)) {
    throw new Error(`--backend must be one of ${BACKENDS.join(', ')}. Received: --backend=${name}`);
  }
  if (name !== 'auto') {
    const r = await tryBackend(name);
    if (!r.ok) {
      const hint = name === 'tensorflow' ? ' (install it with `npm install @tensorflow/tfjs-node`, or use --backend auto)' : '';
      throw new Error(`--backend ${name}: ${r.why}${hint}`);
    }
    return {backend: tf.getBackend(), reason: 'requested with --backend'};
  }
  const skipped = [];
  for (const candidate of AUTO_ORDER) {
    const r = await tryBackend(candidate);
    if (r.ok) return {backend: tf.getBackend(), reason: autoReason(candidate, skipped, r.pkg)};
    skipped.push(candidate === 'tensorflow' ? `${r.why}, so not 'tensorflow'` : `'${candidate}' unavailable: ${r.why}`);
  }
  throw new Error(`no backend could be initialised: ${skipped.join('; ')}`);
}
