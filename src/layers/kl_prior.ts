/**
 * The prior `p(z)` of `KLDivergenceLayer`: the standard normal (closed-form
 * KL), any fixed distribution of the toolkit (a `Normal`: closed form; a
 * `MixtureOfGaussians`: Monte Carlo), or a learned prior whose parameters are
 * weights of the layer (a normal, or a mixture of K diagonal normals — the
 * mixture prior of Dilokthanakul et al. 2016 and Tomczak & Welling's VampPrior
 * family, here with free component means and scales).
 *
 * In a config: `'standardNormal'`, `{className, config}` of a fixed
 * distribution, or `{learned: 'normal'}` / `{learned: 'mixtureOfGaussians', components: K}`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

import {Distribution} from '../distributions/distribution';
import {kl} from '../distributions/kl';
import {MixtureOfGaussians} from '../distributions/mixture_of_gaussians';
import {inverseSoftplusScale, softplusScale, standardNormalKL} from '../distributions/normal';
import {Normal} from '../distributions/normal_distribution';
import {argumentError, checkKnownOptions, checkPositiveInteger} from '../util/validate';
import type {LayerVariable} from '../util/tfjs_types';
import {LatentPrior, STANDARD_NORMAL, sumEvent} from './latent_prior';

/** A learned prior: its parameters are weights of the KL layer. */
export interface LearnedPriorSpec {
  learned: 'normal'|'mixtureOfGaussians';
  /** Components K of a learned mixture (≥ 1). */
  components?: number;
}

/** What `klDivergence({prior})` takes. */
export type KLPriorSpec = 'standardNormal'|Distribution|{className: string, config?: tf.serialization.ConfigDict}|LearnedPriorSpec;

/** Creates a trainable float32 weight of the layer (its `addWeight`). */
type AddWeight = (name: string, shape: number[], initializer: ReturnType<typeof tfl.initializers.zeros>) => LayerVariable;

/** A resolved prior. */
export interface KLPrior {
  /** The config value. */
  readonly config: tf.serialization.ConfigDict|string;
  /** Whether the KL is element-wise in closed form (free bits need that). */
  readonly elementwise: boolean;
  /** Creates learned weights for a latent of `d` values per example (last axis). */
  build(addWeight: AddWeight, d: number, seed: number|undefined): void;
  /**
   * `KL(q ‖ p)` for `q = N(mu, e^logVar)`: element-wise `[batch, ...event]`
   * when `elementwise`, else per example and non-event axis `[batch, ...]`
   * (Monte Carlo with `samples` draws from the seed `seed`).
   */
  divergence(mu: tf.Tensor, logVar: tf.Tensor, samples: number, seed: number|undefined): tf.Tensor;
  /** `log p(z)` per row, for the per-sample log-weights of bound losses. */
  latentPrior(): LatentPrior;
}

const standardNormal: KLPrior = {
  config: 'standardNormal',
  elementwise: true,
  build: () => undefined,
  divergence: (mu, logVar) => standardNormalKL(mu, logVar),
  latentPrior: () => STANDARD_NORMAL,
};

/** A prior given as a distribution (fixed parameters, or built from the layer's weights by `make`). */
function fromDistribution(config: tf.serialization.ConfigDict|string, elementwise: boolean, make: () => Distribution,
                          build: KLPrior['build'] = () => undefined): KLPrior {
  return {
    config,
    elementwise,
    build,
    divergence: (mu, logVar, samples, seed) => tf.tidy(() => {
      const p = make();
      if (p instanceof Normal) {
        // Element-wise closed form, broadcasting p's parameters against the latent's shape.
        return kl(Normal.fromLogVariance(mu, logVar), p);
      }
      const q = Normal.fromLogVariance(mu, logVar, 1);
      return kl(q, p, {monteCarlo: {samples, ...(seed === undefined ? {} : {seed})}});
    }),
    latentPrior: () => ({logProb: (z) => tf.tidy(() => sumEvent(make().logProb(z)))}),
  };
}

function isLearned(spec: unknown): spec is LearnedPriorSpec {
  return spec != null && typeof spec === 'object' && typeof (spec as LearnedPriorSpec).learned === 'string';
}

function isClassConfig(spec: unknown): spec is {className: string, config?: tf.serialization.ConfigDict} {
  return spec != null && typeof spec === 'object' && typeof (spec as {className?: unknown}).className === 'string';
}

/** Resolves `klDivergence`'s `prior` argument. */
export function resolveKLPrior(where: string, spec: unknown): KLPrior {
  if (spec === undefined || spec === null || spec === 'standardNormal') return standardNormal;
  if (spec instanceof Distribution) {
    let config: tf.serialization.ConfigDict;
    try {
      config = {className: spec.getClassName(), config: spec.getConfig()};
    } catch (e) {
      throw argumentError(where, 'prior', `a distribution with fixed (number) parameters, so that it can be saved ` +
          `(${e instanceof Error ? e.message : String(e)})`, spec.getClassName());
    }
    if (!(spec instanceof Normal) && !(spec instanceof MixtureOfGaussians)) {
      throw argumentError(where, 'prior', 'a Normal or a MixtureOfGaussians (a prior over real latents)', spec.getClassName());
    }
    return fromDistribution(config, spec instanceof Normal, () => spec);
  }
  if (isClassConfig(spec)) {
    const entry = tf.serialization.SerializationMap.getMap().classNameMap[spec.className];
    const made = entry === undefined ? undefined : entry[1](entry[0], spec.config ?? {});
    if (!(made instanceof Distribution)) {
      throw argumentError(where, 'prior', `'standardNormal', a distribution of tfv.distributions, its {className, config}, ` +
          `or {learned: 'normal'|'mixtureOfGaussians'}`, spec.className);
    }
    return resolveKLPrior(where, made);
  }
  if (isLearned(spec)) return learnedPrior(where, spec);
  throw argumentError(where, 'prior', `'standardNormal', a distribution of tfv.distributions, its {className, config}, ` +
      `or {learned: 'normal'|'mixtureOfGaussians', components}`, spec);
}

function learnedPrior(where: string, spec: LearnedPriorSpec): KLPrior {
  checkKnownOptions(`${where}: prior`, spec, ['learned', 'components']);
  const unitScale = tfl.initializers.constant({value: inverseSoftplusScale(1)});
  if (spec.learned === 'normal') {
    if (spec.components !== undefined) {
      throw argumentError(where, 'prior.components', 'unset for a learned normal prior', spec.components);
    }
    let loc: LayerVariable|null = null;
    let rho: LayerVariable|null = null;
    return fromDistribution({learned: 'normal'}, true, () => {
      if (loc === null || rho === null) throw new Error(`${where}: the learned prior's weights do not exist before build`);
      return new Normal({loc: loc.read(), scale: softplusScale(rho.read())});
    }, (addWeight, d) => {
      loc = addWeight('prior_loc', [d], tfl.initializers.zeros());
      rho = addWeight('prior_untransformed_scale', [d], unitScale);
    });
  }
  if (spec.learned === 'mixtureOfGaussians') {
    const k = checkPositiveInteger(where, 'prior.components', spec.components);
    let logits: LayerVariable|null = null;
    let locs: LayerVariable|null = null;
    let rhos: LayerVariable|null = null;
    return fromDistribution({learned: 'mixtureOfGaussians', components: k}, false, () => {
      if (logits === null || locs === null || rhos === null) {
        throw new Error(`${where}: the learned prior's weights do not exist before build`);
      }
      return new MixtureOfGaussians({logits: logits.read(), locs: locs.read(), scales: softplusScale(rhos.read())});
    }, (addWeight, d, seed) => {
      logits = addWeight('prior_logits', [k], tfl.initializers.zeros());
      // Distinct component means from the start (a common init would keep the components identical).
      locs = addWeight('prior_locs', [k, d], tfl.initializers.randomNormal({mean: 0, stddev: 1, seed}));
      rhos = addWeight('prior_untransformed_scales', [k, d], unitScale);
    });
  }
  throw argumentError(where, 'prior.learned', `'normal' or 'mixtureOfGaussians'`, spec.learned);
}
