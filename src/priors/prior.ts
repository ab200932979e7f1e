/**
 * The interface every weight prior implements, and the registry that lets a
 * layer's config name its prior: configs hold `{className, config}` — never
 * a function — and loading a model resolves the name here.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalLogProbOfNoise} from '../distributions/normal';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {argumentError} from '../util/validate';

/**
 * A fully factorised prior `p(w) = Π_i p(w_i)` over a weight tensor, and its
 * divergence from a mean-field normal posterior `q(w) = Π_i N(w_i; μ_i, σ_i²)`.
 *
 * A subclass implements `logProb` (element-wise `log p(w_i)`) and, when a
 * closed form exists, `analyticKL` (element-wise `KL(N(μ_i, σ_i²) ‖ p)`).
 * `divergence` then uses the closed form, or otherwise the one-sample Monte
 * Carlo estimate of Blundell et al. 2015 (arXiv:1505.05424, eq. 2),
 *
 *     KL(q ‖ p) ≈ Σ_i [log q(w_i) − log p(w_i)],   w = μ + σ ⊙ ε,  ε ~ N(0, I),
 *
 * which is unbiased, and differentiable in μ and σ through `w`.
 *
 * Register a subclass with `registerPrior(alias, cls)`; it then serializes as
 * `{className, config: getConfig()}` and resolves from its alias or class name.
 */
export abstract class Prior extends tf.serialization.Serializable {
  /** Element-wise `log p(w_i)`, the shape of `w`. */
  abstract logProb(w: tf.Tensor): tf.Tensor;

  /**
   * Element-wise `KL(N(loc_i, scale_i²) ‖ p)` in closed form, or `null` when
   * there is none (then `divergence` needs a posterior sample).
   */
  analyticKL(_loc: tf.Tensor, _scale: tf.Tensor): tf.Tensor|null {
    return null;
  }

  /** Whether `analyticKL` gives a closed form (so `divergence` needs no noise). */
  get hasAnalyticKL(): boolean {
    return false;
  }

  /**
   * `Σ_i KL(N(loc_i, scale_i²) ‖ p)`: the closed form when the prior has one,
   * else `Σ_i [log q(w_i) − log p(w_i)]` at `w = loc + scale ⊙ eps`. `eps`
   * (standard normal, the shape of `loc`) is required only without a closed form.
   */
  divergence(loc: tf.Tensor, scale: tf.Tensor, eps: tf.Tensor|null): tf.Scalar {
    return tf.tidy(() => {
      const exact = this.analyticKL(loc, scale);
      if (exact !== null) return tf.sum(exact);
      if (eps === null) {
        throw new Error(`${this.getClassName()}: a Monte Carlo divergence needs posterior noise eps; none was given`);
      }
      const w = tf.add(loc, tf.mul(scale, eps));
      // log q(w) through the noise (see normalLogProbOfNoise): same value and gradient, less rounding.
      return tf.sum(tf.sub(normalLogProbOfNoise(eps, scale), this.logProb(w)));
    });
  }
}

/** A prior class, as `registerPrior` takes it. */
export type PriorClass = tf.serialization.SerializableConstructor<Prior>;

/** A prior in a layer config: a registered class name (or alias) and its config. */
export interface PriorConfig {
  className: string;
  config?: tf.serialization.ConfigDict;
}

/** What layers accept as a prior: an alias (`'gaussian'`), a `PriorConfig`, or an instance. */
export type PriorIdentifier = string|PriorConfig|Prior;

const byName = new Map<string, PriorClass>();

/**
 * Makes a prior class loadable by its alias (e.g. `'gaussian'`) and by its
 * `className`, and registers it for serialization under our package.
 */
export function registerPrior(alias: string, cls: PriorClass): void {
  if (typeof alias !== 'string' || alias.length === 0) {
    throw argumentError('registerPrior', 'alias', 'a non-empty string', alias);
  }
  if (typeof cls !== 'function' || !(cls.prototype instanceof Prior)) {
    throw argumentError('registerPrior', 'cls', 'a subclass of Prior', cls);
  }
  tf.serialization.registerClass(cls, SERIALIZATION_PACKAGE);
  byName.set(alias, cls);
  byName.set(cls.className, cls);
}

/** The aliases and class names `getPrior` resolves. */
export function registeredPriorNames(): string[] {
  return [...byName.keys()];
}

function isPriorConfig(value: unknown): value is PriorConfig {
  return value != null && typeof value === 'object' && typeof (value as PriorConfig).className === 'string';
}

/**
 * Resolves a prior identifier: an instance is returned as is; a name or
 * `{className, config}` is looked up among the registered priors. `where`
 * and `name` label the error for an unknown prior.
 */
export function getPrior(where: string, name: string, identifier: PriorIdentifier): Prior {
  if (identifier instanceof Prior) return identifier;
  const className = typeof identifier === 'string' ? identifier : isPriorConfig(identifier) ? identifier.className : null;
  const cls = className === null ? undefined : byName.get(className);
  if (cls === undefined) {
    const known = registeredPriorNames().map((n) => `'${n}'`).join(', ');
    throw argumentError(where, name, `a registered prior (${known}), a {className, config} of one, or a Prior`,
        isPriorConfig(identifier) ? identifier.className : identifier);
  }
  const config = isPriorConfig(identifier) && identifier.config != null ? identifier.config : {};
  return cls.fromConfig(cls, config);
}

/** `{className, config}` of a prior, for a layer's `getConfig`. */
export function serializePrior(prior: Prior): {className: string, config: tf.serialization.ConfigDict} {
  return {className: prior.getClassName(), config: prior.getConfig()};
}

/** Checks a finite number > 0 (a scale), naming it in the error. */
