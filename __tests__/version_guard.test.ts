/**
 * The version check of src/util/tfjs_version.ts: the fast wasm kernels and the
 * fused Adam update install themselves only on tfjs-core and tfjs-layers
 * 4.22.x; on another (faked) version nothing is installed and one warning
 * names the version, what was left off and how to force it; the force option
 * and the TFV_ALLOW_UNTESTED_TFJS flag install them anyway.
 *
 * The tests share one module state and run in order: the force test is last
 * (forcing is remembered).
 */
import * as tf from '@tensorflow/tfjs-core';

import {
  _setTfjsVersionsForTests,
  ALLOW_UNTESTED_TFJS_FLAG,
  isTestedVersion,
  patchesAllowed,
  tfjsVersions,
} from '../src/util/tfjs_version';
import {
  applyFastWasmKernelsDefault,
  disableFastWasmKernels,
  enableFastWasmKernels,
  isFastWasmKernelsActive,
  isFastWasmKernelsEnabled,
} from '../src/perf';
import {useBackend} from './helpers/backends';

const WRAPPED = [tf.BatchMatMul, tf._FusedMatMul, tf.GatherV2, tf.Slice, tf.Transpose, tf.Sum, tf.Softplus,
                 tf.Identity, tf.Cast];
const ORIGINAL = Symbol.for('tfjs-variational.fastWasmKernels.original');
const ADAM_ORIGINAL = Symbol.for('tfjs-variational.fusedAdam.original');
const tfjsApplyGradients = tf.AdamOptimizer.prototype.applyGradients;

/** Whether any wasm kernel is one of our wrappers. */
function anyKernelWrapped(): boolean {
  return WRAPPED.some((name) => (tf.getKernel(name, 'wasm') as unknown as Record<symbol, unknown>)?.[ORIGINAL] != null);
}

function adamPatched(): boolean {
  const method = tf.AdamOptimizer.prototype.applyGradients as unknown as Record<symbol, unknown>;
  return method !== (tfjsApplyGradients as unknown) && method[ADAM_ORIGINAL] != null;
}

let warn: jest.SpyInstance;

beforeAll(async () => {
  await useBackend('wasm');
});

beforeEach(() => {
  warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
});

afterEach(() => {
  warn.mockRestore();
  _setTfjsVersionsForTests(null);
});

describe('tfjs version check', () => {
  test('knows the installed versions and the tested release line', () => {
    expect(tfjsVersions()).toEqual({core: tf.version_core, layers: expect.any(String)});
    expect(isTestedVersion('4.22.0')).toBe(true);
    expect(isTestedVersion('4.22.7')).toBe(true);
    expect(isTestedVersion('4.22.0-rc.0')).toBe(true);
    expect(isTestedVersion('4.23.0')).toBe(false);
    expect(isTestedVersion('4.2.0')).toBe(false);
    expect(isTestedVersion('4.220.0')).toBe(false);
    expect(isTestedVersion('5.22.0')).toBe(false);
  });

  test('patchesAllowed: true on 4.22.x without a warning; false on 4.23.0 with one warning per feature', () => {
    expect(patchesAllowed('the test patch')).toBe(true);
    expect(warn).not.toHaveBeenCalled();
    _setTfjsVersionsForTests({core: '4.23.0', layers: '4.22.0'});
    expect(patchesAllowed('the test patch')).toBe(false);
    expect(patchesAllowed('the test patch')).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0][0]);
    expect(message).toContain('the test patch switched off');
    expect(message).toContain('tfjs-core 4.23.0');
    expect(message).toContain(`tf.env().set('${ALLOW_UNTESTED_TFJS_FLAG}', true)`);
    expect(patchesAllowed('another patch')).toBe(false);
    expect(warn).toHaveBeenCalledTimes(2);
    expect(patchesAllowed('another patch', {force: true})).toBe(true);
  });

  test('an untested tfjs-layers alone also keeps patches off', () => {
    _setTfjsVersionsForTests({core: '4.22.0', layers: '4.21.0'});
    expect(patchesAllowed('the layers patch')).toBe(false);
    expect(String(warn.mock.calls[0][0])).toContain('tfjs-layers 4.21.0');
  });

  test('with a fake tfjs 4.23.0 the import default installs nothing and warns once', () => {
    expect(anyKernelWrapped()).toBe(false);
    _setTfjsVersionsForTests({core: '4.23.0', layers: '4.23.0'});
    applyFastWasmKernelsDefault();
    expect(isFastWasmKernelsEnabled()).toBe(false);
    expect(isFastWasmKernelsActive()).toBe(false);
    expect(anyKernelWrapped()).toBe(false);
    expect(tf.getKernel('TfvAdamUpdate', 'wasm')).toBeUndefined();
    expect(tf.AdamOptimizer.prototype.applyGradients).toBe(tfjsApplyGradients);
    expect(adamPatched()).toBe(false);
    // Asking again, directly or through the flag, neither installs nor warns again.
    expect(enableFastWasmKernels()).toBe(false);
    tf.env().set('TFV_WASM_FAST_KERNELS', true);
    expect(tf.env().getBool('TFV_WASM_FAST_KERNELS')).toBe(false);
    expect(anyKernelWrapped()).toBe(false);
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0][0]);
    expect(message).toContain('tfjs-core 4.23.0 and tfjs-layers 4.23.0');
    expect(message).toContain('fast wasm kernels');
    expect(message).toContain('AdamOptimizer.prototype.applyGradients');
    expect(message).toContain(ALLOW_UNTESTED_TFJS_FLAG);
    expect(message).toContain('enableFastWasmKernels({force: true})');
    // A product on wasm is tfjs's own: the invalid one throws tfjs's error.
    expect(() => tf.matMul(tf.ones([2, 3]), tf.ones([4, 2]))).toThrow('inner shapes (3) and (4)');
  });

  test(`setting ${ALLOW_UNTESTED_TFJS_FLAG} after the import installs what the default left off`, () => {
    _setTfjsVersionsForTests({core: '4.23.0', layers: '4.23.0'});
    applyFastWasmKernelsDefault();
    expect(anyKernelWrapped()).toBe(false);
    tf.env().set(ALLOW_UNTESTED_TFJS_FLAG, true);
    try {
      expect(isFastWasmKernelsEnabled()).toBe(true);
      expect(isFastWasmKernelsActive()).toBe(true);
      expect(adamPatched()).toBe(true);
    } finally {
      tf.env().set(ALLOW_UNTESTED_TFJS_FLAG, false);
      disableFastWasmKernels();
    }
    expect(anyKernelWrapped()).toBe(false);
  });

  test('on the tested versions the kernels install without a warning', () => {
    expect(enableFastWasmKernels()).toBe(true);
    expect(isFastWasmKernelsActive()).toBe(true);
    disableFastWasmKernels();
    expect(anyKernelWrapped()).toBe(false);
    expect(warn).not.toHaveBeenCalled();
  });

  test('with a fake tfjs 4.23.0, enableFastWasmKernels({force: true}) installs them (and remembers it)', () => {
    _setTfjsVersionsForTests({core: '4.23.0', layers: '4.23.0'});
    expect(enableFastWasmKernels({force: true})).toBe(true);
    expect(isFastWasmKernelsEnabled()).toBe(true);
    expect(isFastWasmKernelsActive()).toBe(true);
    expect(adamPatched()).toBe(true);
    expect(tf.getKernel('TfvAdamUpdate', 'wasm')).toBeDefined();
    disableFastWasmKernels();
    expect(anyKernelWrapped()).toBe(false);
    expect(enableFastWasmKernels()).toBe(true);
    disableFastWasmKernels();
    expect(warn).not.toHaveBeenCalled();
  });
});
