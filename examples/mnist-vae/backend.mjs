/**
 * Backend selection for the Node examples.
 *
 *   chooseBackend('auto')        tfjs-node ('tensorflow') if installed, else wasm, else cpu
 *   chooseBackend('tensorflow')  @tensorflow/tfjs-node (an optional peer: `npm install @tensorflow/tfjs-node`)
 *   chooseBackend('wasm')        @tensorflow/tfjs-backend-wasm
 *   chooseBackend('cpu')         @tensorflow/tfjs-backend-cpu (plain JavaScript)
 *
 * Every backend package is imported dynamically, so a missing optional one
 * only changes the choice in 'auto' mode; naming it explicitly gives a clear error.
 */
import * as tf from '@tensorflow/tfjs-core';

export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** The package that provides each backend. */
const PACKAGES = {
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

function messageOf(e) {
  return e && e.message ? e.message.split('\n')[0] : String(e);
}

/**
 * Imports the package of `name` and makes it the active backend.
 * @returns {Promise<{ok: true} | {ok: false, why: string}>}
 */
async function tryBackend(name) {
  const pkg = PACKAGES[name];
  try {
    await import(pkg);
  } catch (e) {
    const missing = e && (e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND');
    return {ok: false, why: missing ? `${pkg} is not installed` : `${pkg} failed to load (${messageOf(e)})`};
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
  return {ok: true};
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
  for (const candidate of ['tensorflow', 'wasm', 'cpu']) {
    const r = await tryBackend(candidate);
    if (r.ok) {
      const reason = candidate === 'tensorflow' ? 'auto: @tensorflow/tfjs-node is installed (native TensorFlow)' :
                                                  `auto: ${skipped.join('; ')}`;
      return {backend: tf.getBackend(), reason};
    }
    skipped.push(candidate === 'tensorflow' ? `${r.why}, so not 'tensorflow'` : `'${candidate}' unavailable: ${r.why}`);
  }
  throw new Error(`no backend could be initialised: ${skipped.join('; ')}`);
}
