/**
 * A weight prior bound to one weight tensor of a layer (its role, shape and
 * fan-in), and the noise its divergence may use.
 *
 * A prior that implements `bind(context)` gets the context (and may add
 * learnable prior parameters through `context.addWeight`); any other prior
 * is bound here through its `divergence(loc, scale, eps)`: the closed form
 * when it has one, else the one-sample Monte Carlo estimate at the
 * estimator's noise of the tensor, or at a fresh draw when the estimator
 * drew none (local reparameterization samples the outputs, not the weights).
 */
import * as tf from '@tensorflow/tfjs-core';

import type {Prior} from '../../priors/prior';
import type {Initializer, LayerVariable} from '../../util/tfjs_types';

/** What a prior learns about the weight tensor it is bound to. */
export interface PriorContext {
  /** The weight's role: `'kernel'` or `'bias'`. */
  name: string;
  /** The weight tensor's shape. */
  shape: number[];
  /** Inputs summed per output unit (dense: inputDim; conv: kh·kw·inChannels). */
  fanIn: number;
  /** Adds a learnable prior parameter to the layer; the layer prefixes `name` with the weight's role. */
  addWeight(name: string, shape: number[], initializer: Initializer, trainable: boolean): LayerVariable;
}

/** The noise a bound prior's divergence may use. */
export interface PriorNoise {
  /** The estimator's standard-normal noise of this weight, if it drew one. */
  eps: tf.Tensor|null;
  /** A fresh standard-normal tensor of the weight's shape (the layer's seeded stream). */
  draw: () => tf.Tensor;
}

/** A prior bound to one weight tensor. */
export interface BoundPrior {
  readonly hasAnalyticKL: boolean;
  /** `Σ KL(q ‖ p)` over the tensor: closed form, or Monte Carlo reusing `noise.eps` for the first draw. */
  divergence(loc: tf.Tensor, scale: tf.Tensor, noise: PriorNoise): tf.Scalar;
}

/** A prior with the binding interface. */
interface BindablePrior {
  bind(context: PriorContext): BoundPrior;
}

function isBindable(prior: unknown): prior is BindablePrior {
  return typeof (prior as {bind?: unknown}).bind === 'function';
}

/** Binds `prior` to one weight tensor (once per tensor, in the layer's `build`). */
export function bindPrior(prior: Prior, context: PriorContext): BoundPrior {
  const candidate: unknown = prior;
  if (isBindable(candidate)) return candidate.bind(context);
  return {
    get hasAnalyticKL() {
      return prior.hasAnalyticKL;
    },
    divergence(loc: tf.Tensor, scale: tf.Tensor, noise: PriorNoise): tf.Scalar {
      const eps = prior.hasAnalyticKL ? null : noise.eps ?? noise.draw();
      return prior.divergence(loc, scale, eps);
    },
  };
}
