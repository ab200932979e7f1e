/**
 * The LayersModel replacements made on import (full-objective evaluation and
 * per-term logs) install only on the tested tfjs versions: with a faked
 * 4.23.0 nothing on LayersModel.prototype changes and one warning says how to
 * force them; TFV_ALLOW_UNTESTED_TFJS then installs them. This file imports
 * the engine modules, not the package index, so tfjs-layers starts untouched.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {installModelPatches} from '../src/patches/model_patches';
import {_setTfjsVersionsForTests, ALLOW_UNTESTED_TFJS_FLAG} from '../src/util/tfjs_version';

const proto = tfl.LayersModel.prototype as unknown as Record<string, unknown>;
const METHODS = ['compile', 'evaluate', 'evaluateDataset', 'trainOnBatch', 'makeTestFunction'];

it('stays off with one warning on an untested tfjs, and installs once TFV_ALLOW_UNTESTED_TFJS is set', () => {
  const originals = METHODS.map((m) => proto[m]);
  const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  try {
    _setTfjsVersionsForTests({core: '4.23.0', layers: '4.23.0'});
    expect(installModelPatches()).toBe(false);
    expect(installModelPatches()).toBe(false);
    expect(METHODS.map((m) => proto[m])).toEqual(originals);
    expect(warn).toHaveBeenCalledTimes(1);
    const message = String(warn.mock.calls[0][0]);
    expect(message).toContain('full-objective evaluation and per-term logs');
    expect(message).toContain('found tfjs-core 4.23.0 and tfjs-layers 4.23.0');
    expect(message).toContain(`tf.env().set('${ALLOW_UNTESTED_TFJS_FLAG}', true)`);

    tf.env().set(ALLOW_UNTESTED_TFJS_FLAG, true);
    METHODS.forEach((m, i) => expect(proto[m]).not.toBe(originals[i]));
    expect(installModelPatches()).toBe(true);
  } finally {
    warn.mockRestore();
    _setTfjsVersionsForTests(null);
  }
});
