/**
 * A dense layer with a mean-field Gaussian posterior over its weights, whose
 * divergence from a prior joins the model's loss (Bayes by Backprop). The
 * posterior weights, estimators and divergence are the shared variational
 * component (`variational/`); this file holds the dense shapes.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Kwargs, Shape} from '../util/tfjs_types';

import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {checkPositiveInteger, LAYER_ARG_NAMES, showShape} from '../util/validate';
import type {AnyTensor, LayerIO, SymbolicTensor} from './apply_types';
import {MATMUL_OP} from './variational/linear_ops';
import {
  singleInputShape, singleInputTensor, VARIATIONAL_ARG_NAMES, VariationalEstimator, VariationalLayerArgs, VariationalLinearLayer,
} from './variational/variational_layer';

export type BayesianDenseEstimator = VariationalEstimator;
const BAYESIAN_DENSE_ARG_NAMES = ['units', ...VARIATIONAL_ARG_NAMES, ...LAYER_ARG_NAMES];

export interface BayesianDenseArgs extends VariationalLayerArgs {
  /** Output units, a positive integer. */
  units: number;
}

/**
 * A dense layer `y = activation(x W + b)` whose kernel (and optionally bias)
 * has a factorised Gaussian posterior
 *
 *     q(W) = Π_ij N(W_ij; μ_ij, σ_ij²),   σ = 10⁻⁵ + softplus(ρ),
 *
 * learned by variational inference (Bayes by Backprop, Blundell et al. 2015,
 * arXiv:1505.05424). Its weights are `kernel_loc` (μ), `kernel_untransformed_scale`
 * (ρ), `bias_loc`, optionally `bias_untransformed_scale`, and the
 * non-trainable `kl_weight`. Through `addLoss` it adds
 *
 *     klWeight · KL(q(W, b) ‖ p(W, b)),   klWeight = 1/N by `numExamples`,
 *
 * so that with a per-example data loss the model minimises the negative
 * ELBO per example. The KL is exact for the Gaussian prior and a one-sample
 * Monte Carlo estimate `log q(w) − log p(w)` otherwise (scale mixture).
 * Once per application, whatever the batch size; recorded at training and
 * during full-objective evaluation (`model.evaluate`, `tfv.evaluateObjective`),
 * never by `predict`.
 *
 * Estimators (`estimator`), all unbiased for the same objective:
 * - `'reparameterization'` — `W = μ + σ ⊙ ε` once per batch (Blundell et al. 2015);
 * - `'localReparameterization'` — `y = xμ + √(x²σ²) ⊙ ζ` per example (Kingma
 *   et al. 2015, arXiv:1506.02557);
 * - `'flipout'` — `y = xμ + ((x ⊙ s)(σ ⊙ ε)) ⊙ r` with random signs s, r per
 *   example (Wen et al. 2018, arXiv:1803.04386).
 * See `dense_estimators.ts` for each one's formulas with the bias.
 *
 * At training the layer always samples; at inference it samples
 * (`inferenceMode: 'sample'`, default: call `predict` repeatedly for Monte
 * Carlo predictions) or uses the posterior mean (`'mean'`).
 *
 * **Input:** `[batch, ..., inputDim]`. **Output:** `[batch, ..., units]`.
 */
export class BayesianDense extends VariationalLinearLayer {
  /** @nocollapse */
  static className = 'BayesianDense';

  readonly units: number;
  private inputDim = -1;

  constructor(args: BayesianDenseArgs) {
    super('bayesianDense', args, BAYESIAN_DENSE_ARG_NAMES, 'units');
    this.units = checkPositiveInteger(this.where, 'units', args.units);
    this.inputSpec = [new tfl.InputSpec({minNDim: 2})];
  }

  override build(inputShape: Shape|Shape[]): void {
    const shape = singleShape(inputShape);
    const inputDim = shape[shape.length - 1];
    if (inputDim == null) {
      throw new Error(`bayesianDense: expected the input's last axis (inputDim) to be known. Received: input shape=${showShape(shape)}`);
    }
    this.inputDim = inputDim;
    this.buildPosterior([inputDim, this.units], inputDim);
    this.inputSpec = [new tfl.InputSpec({minNDim: 2, axes: {[-1]: inputDim}})];
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape|Shape[]): Shape {
    const shape = singleShape(inputShape);
    return [...shape.slice(0, -1), this.units];
  }

  override apply(inputs: SymbolicTensor, kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: tf.Tensor, kwargs?: Kwargs): tf.Tensor;
  /** The result of another layer's `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: LayerIO, kwargs?: Kwargs): AnyTensor;
  override apply(inputs: LayerIO, kwargs?: Kwargs): LayerIO {
    return super.apply(inputs, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = singleInputTensor('bayesianDense', inputs);
      const key = this.divergenceKey([x], kwargs);
      const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, this.inputDim]);
      let y = this.linearOutput(MATMUL_OP, x2, key, kwargs['training'] === true);
      if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), this.units]);
      return this.activate(y);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {units: this.units, ...this.variationalConfig(), ...super.getConfig()};
  }
}
tf.serialization.registerClass(BayesianDense, SERIALIZATION_PACKAGE);

function singleShape(inputShape: Shape|Shape[]): Shape {
  const shape = singleInputShape('bayesianDense', inputShape);
  if (shape.length < 2) {
    throw new Error(`bayesianDense: expected the input to have rank >= 2 ([batch, ..., inputDim]). Received: input shape=${showShape(shape)}`);
  }
  return shape;
}

/**
 * A dense layer with a Gaussian weight posterior (Bayes by Backprop):
 * `y = activation(x W + b)` with `W ~ N(μ, σ²)` sampled by `estimator`,
 * adding `klWeight · KL(q(W) ‖ p(W))` to the model's loss.
 *
 * **Input:** `[batch, ..., inputDim]`. **Output:** `[batch, ..., units]`.
 *
 * References: Blundell et al. 2015 (arXiv:1505.05424); Kingma, Salimans &
 * Welling 2015 (arXiv:1506.02557); Wen et al. 2018 (arXiv:1803.04386).
 *
 * ```js
 * const model = tf.sequential({layers: [
 *   tfv.layers.bayesianDense({inputShape: [13], units: 32, activation: 'relu', numExamples: N, estimator: 'flipout'}),
 *   tfv.layers.bayesianDense({units: 1, numExamples: N, estimator: 'flipout'}),
 * ]});
 * model.compile({optimizer: tf.train.adam(1e-2), loss: tfv.losses.gaussianNLL({scale: 1})});
 * await model.fit(x, y, {epochs: 100});
 * const draws = Array.from({length: 20}, () => model.predict(xTest));  // Monte Carlo predictions
 * ```
 */
export function bayesianDense(args: BayesianDenseArgs): BayesianDense {
  return new BayesianDense(args);
}
