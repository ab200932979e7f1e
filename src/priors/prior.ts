/**
 * The interface every weight prior implements, and the registry that lets a
 * layer's config name its prior: configs hold `{className, config}` — never
 * a function — and loading a model resolves the name here.
 */
import * as tf from '@tensorflow/tfjs-core';

import {normalLogProbOfNoise, normalSampleFromNoise} from '../distributions/normal';
import {standardNormal} from '../distributions/random';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import type {Initializer, LayerVariable} from '../util/tfjs_types';
import {argumentError, checkPositiveInteger} from '../util/validate';

/**
 * What a layer tells a prior about the weight tensor it is bound to
 * (`Prior.bind`): the weight's role and shape, its fan-in, and a way to add
 * learnable prior parameters to the layer.
 */
export interface PriorContext {
  /** The weight's role in its layer: `'kernel'` or `'bias'`. */
  name: string;
  /** The weight tensor's shape. */
  shape: number[];
  /** Inputs summed per output unit (dense: inputDim; conv: kh·kw·inChannels). */
  fanIn: number;
  /**
   * Adds a weight to the layer, for learnable prior parameters (e.g. an
   * empirical-Bayes scale); the layer prefixes `name` with the weight's role.
   */
  addWeight(name: string, shape: number[], initializer: Initializer, trainable: boolean): LayerVariable;
}

/** The standard-normal noise a bound prior may use for a Monte Carlo divergence. */
export interface PriorNoise {
  /** The estimator's standard-normal noise for this weight, if it drew one (the shape of the weight), else null. */
  eps: tf.Tensor|null;
  /** A fresh standard-normal tensor of the weight's shape. */
  draw: () => tf.Tensor;
}

/** A prior bound to one weight tensor of one layer (`Prior.bind`). */
export interface BoundPrior {
  /** Whether `divergence` is a closed form (it then reads no noise). */
  readonly hasAnalyticKL: boolean;
  /**
   * `Σ_i KL(q ‖ p)` over this tensor, `q = Π_i N(loc_i, scale_i²)`: the
   * closed form, or the Monte Carlo estimate over the prior's `mcSamples`
   * draws (`noise.eps` first when given, then `noise.draw()`).
   */
  divergence(loc: tf.Tensor, scale: tf.Tensor, noise: PriorNoise): tf.Scalar;
}

/** How a bound prior's divergence is computed (see `divergenceOf`). */
export interface DivergenceParts {
  /** Element-wise closed-form KL, or `null` when there is none. */
  analyticKL: ((loc: tf.Tensor, scale: tf.Tensor) => tf.Tensor)|null;
  /** `log p(w)` summed over the tensor (for the Monte Carlo estimate). */
  logProbSum: (w: tf.Tensor) => tf.Scalar;
  /** Number of Monte Carlo draws S ≥ 1. */
  mcSamples: number;
}

/**
 * `Σ_i KL(N(loc_i, scale_i²) ‖ p)`: `Σ analyticKL` when given, else
 *
 *     KL ≈ (1/S) Σ_s [log q(w_s) − log p(w_s)],   w_s = loc + scale ⊙ ε_s,
 *
 * with `ε_1 = noise.eps` when given and every other `ε_s = noise.draw()`.
 * Unbiased for any S, and differentiable in `loc` and `scale` through `w_s`.
 * The one path of every prior's divergence, bound or not.
 */
export function divergenceOf(parts: DivergenceParts, loc: tf.Tensor, scale: tf.Tensor, noise: PriorNoise): tf.Scalar {
  return tf.tidy(() => {
    if (parts.analyticKL !== null) return tf.sum(parts.analyticKL(loc, scale));
    let total: tf.Scalar|null = null;
    for (let s = 0; s < parts.mcSamples; s++) {
      const eps = s === 0 && noise.eps !== null ? noise.eps : noise.draw();
      if (!tf.util.arraysEqual(eps.shape, loc.shape)) {
        throw new Error(`divergence: expected the noise to have the weight's shape [${loc.shape}]. Received: shape [${eps.shape}]`);
      }
      const w = normalSampleFromNoise(loc, scale, eps);
      // log q(w) through the noise (see normalLogProbOfNoise): same value and gradient, less rounding.
      const term = tf.sub(tf.sum(normalLogProbOfNoise(eps, scale)), parts.logProbSum(w)) as tf.Scalar;
      total = total === null ? term : tf.add(total, term) as tf.Scalar;
    }
    return (parts.mcSamples === 1 ? total : tf.div(total as tf.Scalar, parts.mcSamples)) as tf.Scalar;
  });
}

/**
 * A prior `p(w)` over a weight tensor, and its divergence from a mean-field
 * normal posterior `q(w) = Π_i N(w_i; μ_i, σ_i²)`.
 *
 * **Factorised priors** `p(w) = Π_i p(w_i)` implement `logProb`
 * (element-wise `log p(w_i)`) and, when a closed form exists, `analyticKL`
 * (element-wise `KL(N(μ_i, σ_i²) ‖ p)`). **Non-factorised priors** (e.g. the
 * conjugate ones, whose weights are dependent once the hyper-parameters are
 * integrated out) extend `JointPrior` and implement `logProbSum(w)`, the
 * joint `log p(w)` of the whole tensor, instead.
 *
 * A layer binds the prior to each of its weight tensors (`bind`), which may
 * add learnable prior parameters or read the tensor's fan-in; the bound
 * prior's `divergence` is the closed form when there is one, else the Monte
 * Carlo estimate of Blundell et al. 2015 (arXiv:1505.05424, eq. 2) averaged
 * over `mcSamples` draws,
 *
 *     KL(q ‖ p) ≈ (1/S) Σ_s [log q(w_s) − log p(w_s)],   w_s = μ + σ ⊙ ε_s,  ε_s ~ N(0, I),
 *
 * which is unbiased, and differentiable in μ and σ through `w_s`.
 *
 * Register a subclass with `registerPrior(alias, cls)`; it then serializes as
 * `{className, config: getConfig()}` and resolves from its alias or class name.
 */
export abstract class Prior extends tf.serialization.Serializable {
  /** Element-wise `log p(w_i)`, the shape of `w` (factorised priors). */
  abstract logProb(w: tf.Tensor): tf.Tensor;

  /** The joint `log p(w)` of a whole weight tensor: `Σ_i logProb(w)_i` for a factorised prior. */
  logProbSum(w: tf.Tensor): tf.Scalar {
    return tf.tidy(() => tf.sum(this.logProb(w)));
  }

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

  /** Monte Carlo draws S per divergence when there is no closed form (an option of such priors, default 1). */
  get mcSamples(): number {
    return 1;
  }

  /**
   * Binds the prior to one weight tensor of a layer (called once per tensor
   * when the layer builds). The default uses `analyticKL` when the prior has
   * a closed form, else `logProbSum` with `mcSamples` draws (see
   * `divergenceOf`); priors with learnable parameters or a fan-in-dependent
   * scale override it. A prior of the old contract that overrides
   * `divergence(loc, scale, eps)` itself is bound through that override (at
   * `noise.eps`, or one `noise.draw()`, when it has no closed form).
   */
  bind(context: PriorContext): BoundPrior {
    checkPriorContext(`${this.getClassName()}.bind`, context);
    if (this.divergence !== Prior.prototype.divergence) {
      const exact = this.hasAnalyticKL;
      return {
        hasAnalyticKL: exact,
        divergence: (loc, scale, noise) => tf.tidy(() => this.divergence(loc, scale, exact ? null : noise.eps ?? noise.draw())),
      };
    }
    const parts = this.divergenceParts();
    return {
      hasAnalyticKL: parts.analyticKL !== null,
      divergence: (loc, scale, noise) => divergenceOf(parts, loc, scale, noise),
    };
  }

  /**
   * `Σ_i KL(N(loc_i, scale_i²) ‖ p)` of the unbound prior, through the same
   * path as a bound one: the closed form when the prior has one, else the
   * Monte Carlo estimate at `w = loc + scale ⊙ eps` (and `mcSamples − 1`
   * further, unseeded draws; a bound prior takes them from the layer's
   * seeded `noise.draw()`). `eps` (standard normal, the shape of `loc`) is
   * required only without a closed form.
   */
  divergence(loc: tf.Tensor, scale: tf.Tensor, eps: tf.Tensor|null): tf.Scalar {
    const parts = this.divergenceParts();
    if (parts.analyticKL === null && eps === null) {
      throw new Error(`${this.getClassName()}: a Monte Carlo divergence needs posterior noise eps; none was given`);
    }
    return divergenceOf(parts, loc, scale, {eps, draw: () => standardNormal(loc.shape)});
  }

  /** The closed form (when `hasAnalyticKL`) or the joint log-density, with `mcSamples`. */
  protected divergenceParts(): DivergenceParts {
    return {
      analyticKL: this.hasAnalyticKL ? (loc, scale) => {
        const exact = this.analyticKL(loc, scale);
        if (exact === null) throw new Error(`${this.getClassName()}: hasAnalyticKL is true but analyticKL returned null`);
        return exact;
      } : null,
      logProbSum: (w) => this.logProbSum(w),
      mcSamples: this.mcSamples,
    };
  }
}

/**
 * A prior that does not factorise over the weights of a tensor: it
 * implements the joint `logProbSum(w)` (a scalar) and has no element-wise
 * `logProb`. The conjugate priors are of this kind.
 */
export abstract class JointPrior extends Prior {
  /** The joint `log p(w)` of the whole tensor `w` (a scalar). */
  abstract override logProbSum(w: tf.Tensor): tf.Scalar;

  /** A joint prior has no element-wise log-density: throws, naming the class. */
  override logProb(_w: tf.Tensor): tf.Tensor {
    throw new Error(`${this.getClassName()}.logProb: this prior does not factorise over the weights; ` +
        'use logProbSum(w), the joint log-density of the whole tensor');
  }
}

/** The `mcSamples` option of a prior without a closed form: a positive integer, default 1. */
export function mcSamplesOption(where: string, value: unknown): number {
  return value === undefined ? 1 : checkPositiveInteger(where, 'mcSamples', value);
}

/** Checks what a layer passes to `Prior.bind`, naming the field. */
export function checkPriorContext(where: string, context: unknown): PriorContext {
  if (context == null || typeof context !== 'object') {
    throw argumentError(where, 'context', 'a PriorContext {name, shape, fanIn, addWeight}', context);
  }
  const c = context as PriorContext;
  if (typeof c.name !== 'string' || c.name.length === 0) {
    throw argumentError(where, 'context.name', 'a non-empty string (the weight\'s role, e.g. \'kernel\')', c.name);
  }
  if (!Array.isArray(c.shape) || !c.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw argumentError(where, 'context.shape', 'an array of non-negative integers', c.shape);
  }
  if (!(Number.isInteger(c.fanIn) && c.fanIn > 0)) {
    throw argumentError(where, 'context.fanIn', 'a positive integer', c.fanIn);
  }
  if (typeof c.addWeight !== 'function') {
    throw argumentError(where, 'context.addWeight', 'a function', c.addWeight);
  }
  return c;
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
 * - define `static className` (unique among registered classes) and one of
 *   the two density contracts: `logProb(w)` returning a tensor of `w`'s
 *   shape (a factorised prior), or — for a prior that does not factorise
 *   over the weights, e.g. a subclass of `JointPrior` — `logProbSum(w)`
 *   returning the joint log-density of the tensor, a scalar.
 *
 * `registerPrior` checks this on the class built from `{}`: its arity, the
 * config round trip, and on a probe tensor `logProbSum` when the class
 * defines it (it must return a scalar), else `logProb` (it must return `w`'s
 * shape) — so a constructor taking positional numbers fails here, naming the
 * class, rather than deep inside an op during training. A class that
 * overrides `bind` (learnable prior parameters, a fan-in-dependent scale) is
 * probed the same way; `bind` itself needs a layer and is not probed.
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
  // Either contract: a joint log-density (a class that defines logProbSum), or an element-wise one.
  const joint = cls.prototype.logProbSum !== Prior.prototype.logProbSum;
  const method = joint ? 'logProbSum' : 'logProb';
  let shape: number[]|null = null;
  try {
    shape = tf.tidy(() => (joint ? prior.logProbSum(tf.zeros([2])) : prior.logProb(tf.zeros([2]))).shape);
  } catch (e) {
    throw new Error(`registerPrior: ${name}.${method} failed on w = [0, 0] with the config ${json} (${message(e)}); ${contract}`);
  }
  if (joint && shape.length !== 0) {
    throw new Error(`registerPrior: ${name}.logProbSum(w) must return a scalar (the joint log-density of w). Received: shape [${shape}]`);
  }
  if (!joint && (shape.length !== 1 || shape[0] !== 2)) {
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
