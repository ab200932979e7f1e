/**
 * The output layer for a Gaussian likelihood with a learned variance.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerArgs, Shape} from '../util/tfjs_types';

import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkKnownOptions, LAYER_ARG_NAMES} from '../util/validate';
import type {AnyTensor, Kwargs, LayerIO, SymbolicTensor} from './apply_types';
import {gaussianParamShape, ShapeArg, splitGaussianParams} from './gaussian_params';

/**
 * Joins a decoder's mean and log-variance heads into the one parameter
 * tensor `concat([mean, logVar], -1)` that
 * `tfv.losses.gaussianNLL({learnedVariance: true})` reads,
 *
 *     nll_b = Σ_event ½ ((x − mean)² e^{−logVar} + logVar + log 2π),
 *
 * and declares the output's last axis unknown: `model.fit` checks targets
 * against the declared output shape, and the targets `[batch, ..., d]` are
 * half as wide as the parameters `[batch, ..., 2·d]`.
 *
 * **Input:** `[mean, logVar]` of equal shapes `[batch, ..., d]`, or one
 * tensor `[batch, ..., 2·d]` already holding both.
 * **Output:** `[batch, ..., 2·d]`, declared as `[batch, ..., null]`.
 */
export class GaussianOutput extends tfl.layers.Layer {
  /** @nocollapse */
  static className = 'GaussianOutput';

  constructor(args: LayerArgs = {}) {
    checkKnownOptions('gaussianOutput', args, LAYER_ARG_NAMES);
    super(args);
  }

  /** `[mean, logVar]` (or one tensor holding both) in, one tensor out. */
  override apply(inputs: [SymbolicTensor, SymbolicTensor]|SymbolicTensor, kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: [tf.Tensor, tf.Tensor]|tf.Tensor, kwargs?: Kwargs): tf.Tensor;
  /** Results of other layers' `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: [LayerIO, LayerIO]|LayerIO, kwargs?: Kwargs): AnyTensor;
  override apply(inputs: [LayerIO, LayerIO]|LayerIO, kwargs?: Kwargs): LayerIO {
    return super.apply(inputs as LayerIO, kwargs);
  }

  override computeOutputShape(inputShape: ShapeArg): Shape {
    const param = gaussianParamShape('gaussianOutput', inputShape);
    return [...param.slice(0, -1), null];
  }

  override call(inputs: tf.Tensor|tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [mean, logVar] = splitGaussianParams('gaussianOutput', inputs);
      return tf.concat([mean, logVar], -1);
    });
  }
}
tf.serialization.registerClass(GaussianOutput, SERIALIZATION_PACKAGE);

/**
 * `[mean, logVar] → concat([mean, logVar], -1)` with an unknown last axis, for
 * `tfv.losses.gaussianNLL({learnedVariance: true})`.
 *
 * ```js
 * const mean = tf.layers.dense({units: 784}).apply(h);
 * const logVar = tf.layers.dense({units: 784}).apply(h);
 * const out = tfv.layers.gaussianOutput().apply([mean, logVar]);
 * model.compile({optimizer: 'adam', loss: tfv.losses.gaussianNLL({learnedVariance: true})});
 * ```
 */
export function gaussianOutput(args?: LayerArgs): GaussianOutput {
  return new GaussianOutput(args);
}
