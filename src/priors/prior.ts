/**
 * The interface every weight prior implements, and the registry that lets a
 * layer's config name its prior: configs hold `{className, config}` — never
 * a function — and loading a model resolves the name here.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalLogProbOfNoise, normalSampleFromNoise} from '../distributions/normal';
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
      const w = normalSampleFromNoise(loc, scale, eps);
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
 *
 * **The constructor contract.** A saved model stores a prior as
 * `{className, config: prior.getConfig()}` and rebuilds it with
 * `new cls(config)`, so a prior class must:
 * - take one argument, a plain config object, and construct from `{}` with
 *   its defaults (`constructor(args: MyPriorArgs = {})`);
 * - return from `getConfig()` a JSON-serializable object of those same
 *   arguments, such that `new cls(prior.getConfig())` is the same prior;
 * - define `static className` (unique among registered classes) and
 *   `logProb(w)` returning a tensor of `w`'s shape.
 *
 * `registerPrior` checks this on the class built from `{}`: its arity, the
 * config round trip, and `logProb` on a probe tensor (so a constructor taking
 * positional numbers fails here, naming the class, rather than deep inside an
 * op during training).
 *
 * ```js
 * class LaplacePrior extends tfv.priors.Prior {
 *   static className = 'LaplacePrior';
 *   constructor({b = 1} = {}) { super(); this.b = b; }
 *   logProb(w) { return tf.sub(tf.neg(tf.div(tf.abs(w), this.b)), Math.log(2 * this.b)); }
 *   getConfig() { return {b: this.b}; }
 * }
 * tfv.priors.registerPrior('laplace', LaplacePrior);
 * ```
 */
export function registerPrior(alias: string, cls: PriorClass): void {
  checkPriorClass(alias, cls);
  probePrior(cls);
  addPrior(alias, cls);
}

/** Registration of this library's own priors (their contract is tested; no probe at import time). */
export function registerBuiltinPrior(alias: string, cls: PriorClass): void {
  checkPriorClass(alias, cls);
  addPrior(alias, cls);
}

function addPrior(alias: string, cls: PriorClass): void {
  tf.serialization.registerClass(cls, SERIALIZATION_PACKAGE);
  byName.set(alias, cls);
  byName.set(cls.className, cls);
}

function checkPriorClass(alias: unknown, cls: unknown): void {
  const where = 'registerPrior';
  if (typeof alias !== 'string' || alias.length === 0) {
    throw argumentError(where, 'alias', 'a non-empty string', alias);
  }
  if (typeof cls !== 'function' || !(cls.prototype instanceof Prior)) {
    throw argumentError(where, 'cls', 'a subclass of Prior', cls);
  }
  const name = (cls as PriorClass).className;
  if (typeof name !== 'string' || name.length === 0) {
    throw new Error(`${where}: expected the prior class to define a static className (a non-empty string). ` +
        `Received: className=${String(name)}`);
  }
  if (cls.length > 1) {
    throw new Error(`${where}: the constructor of ${name} takes ${cls.length} parameters; a prior's constructor takes ` +
        'one config object (the values of its getConfig()), e.g. constructor({scale = 1} = {})');
  }
}

/** Builds the prior from `{}`, round-trips its config and runs `logProb` once, with errors that name the contract. */
function probePrior(cls: PriorClass): void {
  const name = cls.className;
  const contract = `a prior's constructor takes one config object and builds from {} with defaults; ` +
      'getConfig() returns that object as JSON (see registerPrior)';
  let prior: Prior;
  let config: tf.serialization.ConfigDict;
  try {
    prior = new (cls as unknown as new (config: tf.serialization.ConfigDict) => Prior)({});
    config = prior.getConfig();
  } catch (e) {
    throw new Error(`registerPrior: ${name} could not be built from an empty config {} (${message(e)}); ${contract}`);
  }
  const json = JSON.stringify(config);
  if (config == null || typeof config !== 'object' || Array.isArray(config) || json === undefined) {
    throw new Error(`registerPrior: ${name}.getConfig() must return a plain object. Received: ${String(config)}; ${contract}`);
  }
  let again: string;
  try {
    again = JSON.stringify(cls.fromConfig(cls, JSON.parse(json)).getConfig());
  } catch (e) {
    throw new Error(`registerPrior: ${name} could not be rebuilt from its own config ${json} (${message(e)}); ${contract}`);
  }
  if (again !== json) {
    throw new Error(`registerPrior: ${name} rebuilt from its config ${json} has the config ${again}; ${contract}`);
  }
  let shape: number[]|null = null;
  try {
    shape = tf.tidy(() => prior.logProb(tf.zeros([2])).shape);
  } catch (e) {
    throw new Error(`registerPrior: ${name}.logProb failed on w = [0, 0] with the config ${json} (${message(e)}); ${contract}`);
  }
  if (shape.length !== 1 || shape[0] !== 2) {
    throw new Error(`registerPrior: ${name}.logProb(w) must return a tensor of w's shape [2]. Received: shape [${shape}]`);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The aliases and class names `getPrior` resolves. */
export function registeredPriorNames(): string[] {
  return [...byName.keys()];
}

function isPriorConfig(value: unknown): value is PriorConfig {
  return value != null && typeof value === 'object' && typeof (value as PriorConfig).className === 'string';
}

/**
 * Resolves a prior identifier: an instance is returned as is; a registered
 * name (`'gaussian'`, `'scaleMixture'`, a class name) or a
 * `{className, config}` is built from the registry.
 */
export function getPrior(identifier: PriorIdentifier): Prior {
  return resolvePrior('getPrior', 'identifier', identifier);
}

/** `getPrior` with the calling function and argument named in the error (for layers). */
export function resolvePrior(where: string, name: string, identifier: PriorIdentifier): Prior {
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
