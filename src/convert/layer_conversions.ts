/**
 * How one deterministic layer's config becomes its Bayesian counterpart's:
 * `Dense` → `BayesianDense`, `Conv2D` → `BayesianConv2D`. Each converter
 * copies the architecture (units or filters, kernel size, strides, padding,
 * dilation, activation, bias, name, input shape), adds the variational
 * settings, and either returns the new config or says why the layer cannot
 * be converted (an option the Bayesian layer lacks).
 */
import * as tf from '@tensorflow/tfjs-core';

import {BayesianConv2D} from '../layers/bayesian_conv2d';
import {BayesianDense} from '../layers/bayesian_dense';
import type {PriorConfig} from '../priors/prior';
import {deriveSeed} from '../util/seed';

type ConfigDict = tf.serialization.ConfigDict;

/** The variational settings every converted layer receives (from `variationalize`'s options). */
export interface VariationalSettings {
  numExamples?: number;
  klWeight?: number;
  estimator?: string;
  /** A registered prior name or `{className, config}`: each layer builds its own prior from it. */
  prior?: string|PriorConfig;
  priorScale?: number;
  bayesianBias: boolean;
  inferenceMode?: string;
  /** The layer's own noise seed (derived per layer), or undefined. */
  seed?: number;
  /**
   * The seed the layer's initializers derive theirs from, when the posterior
   * is initialised freshly and `variationalize` was seeded; else undefined
   * (the layer's default, unseeded initializers).
   */
  initializerSeed?: number;
}

/** A converted layer: the Bayesian class and config, and the original options it had to leave out. */
export interface LayerConversion {
  className: string;
  config: ConfigDict;
  /** Options set on the original (non-null) that the Bayesian layer has no counterpart for, and so drops. */
  dropped: string[];
}

/** A layer that stays deterministic, and why. */
export interface ConversionRefusal {
  reason: string;
}

export interface LayerConverter {
  /** The class name of the Bayesian layer it produces. */
  readonly target: string;
  convert(config: ConfigDict, settings: VariationalSettings): LayerConversion|ConversionRefusal;
}

/** Options of every layer's config (`Layer.getConfig`), copied as they are. */
const BASE_OPTIONS = ['name', 'trainable', 'batchInputShape', 'dtype'];
/** Options whose role the posterior takes over: the initial weights come from the posterior's initializers or MOPED. */
const REPLACED_OPTIONS = ['kernelInitializer', 'biasInitializer'];
/**
 * Options the Bayesian layers do not have. A regularizer or constraint set
 * on the original is left out (the prior's divergence takes the place of a
 * weight penalty) and reported in `droppedOptions`.
 */
const DROPPABLE_OPTIONS = ['kernelRegularizer', 'biasRegularizer', 'activityRegularizer', 'kernelConstraint', 'biasConstraint'];

/** The TFP default ρ ~ N(−3, 0.1) of the Bayesian layers (σ ≈ 0.05), seeded. */
function untransformedScaleInitializer(seed: number): ConfigDict {
  return {className: 'RandomNormal', config: {mean: -3, stddev: 0.1, seed}};
}

/** The variational part of a Bayesian layer's config, shared by the converters. */
function variationalConfig(settings: VariationalSettings, useBias: boolean): ConfigDict {
  const config: ConfigDict = {};
  if (settings.numExamples !== undefined) config['numExamples'] = settings.numExamples;
  if (settings.klWeight !== undefined) config['klWeight'] = settings.klWeight;
  if (settings.estimator !== undefined) config['estimator'] = settings.estimator;
  if (settings.prior !== undefined) config['prior'] = settings.prior as ConfigDict|string;
  if (settings.priorScale !== undefined) config['priorScale'] = settings.priorScale;
  if (settings.inferenceMode !== undefined) config['inferenceMode'] = settings.inferenceMode;
  if (settings.seed !== undefined) config['seed'] = settings.seed;
  const bayesianBias = settings.bayesianBias && useBias;
  config['bayesianBias'] = bayesianBias;
  if (settings.initializerSeed !== undefined) {
    // Seeded fresh initialisation: the layers' defaults (μ glorotNormal, ρ ~ N(−3, 0.1), bias μ zeros), each with its own seed.
    const s = settings.initializerSeed;
    config['kernelLocInitializer'] = {className: 'GlorotNormal', config: {seed: deriveSeed(s, 0)}};
    config['kernelUntransformedScaleInitializer'] = untransformedScaleInitializer(deriveSeed(s, 1));
    if (bayesianBias) config['biasUntransformedScaleInitializer'] = untransformedScaleInitializer(deriveSeed(s, 2));
  }
  return config;
}

/**
 * Splits `config`'s options into those `copied` to the Bayesian layer, those
 * replaced by the posterior, the droppable ones set to a value, and any
 * other option (a refusal: converting would silently change the layer).
 */
function sortOptions(target: string, config: ConfigDict, copied: readonly string[]):
    {copy: ConfigDict, dropped: string[]}|ConversionRefusal {
  const copy: ConfigDict = {};
  const dropped: string[] = [];
  for (const [key, value] of Object.entries(config)) {
    if (copied.includes(key) || BASE_OPTIONS.includes(key)) {
      if (value !== undefined) copy[key] = value;
    } else if (DROPPABLE_OPTIONS.includes(key)) {
      if (value != null) dropped.push(key);
    } else if (!REPLACED_OPTIONS.includes(key)) {
      return {reason: `its option '${key}' has no counterpart in ${target}`};
    }
  }
  return {copy, dropped};
}

/** `Dense` → `BayesianDense` (units, activation, useBias kept). */
export const DENSE_CONVERTER: LayerConverter = {
  target: BayesianDense.className,
  convert(config, settings) {
    const sorted = sortOptions(this.target, config, ['units', 'activation', 'useBias']);
    if ('reason' in sorted) return sorted;
    const useBias = config['useBias'] !== false;
    return {className: this.target, config: {...sorted.copy, ...variationalConfig(settings, useBias)}, dropped: sorted.dropped};
  },
};

/**
 * `Conv2D` → `BayesianConv2D` (filters, kernel size, strides, padding, data
 * format — channels last or first —, dilation, activation, useBias kept).
 */
export const CONV2D_CONVERTER: LayerConverter = {
  target: BayesianConv2D.className,
  convert(config, settings) {
    const sorted = sortOptions(this.target, config,
        ['filters', 'kernelSize', 'strides', 'padding', 'dataFormat', 'dilationRate', 'activation', 'useBias']);
    if ('reason' in sorted) return sorted;
    const useBias = config['useBias'] !== false;
    return {className: this.target, config: {...sorted.copy, ...variationalConfig(settings, useBias)}, dropped: sorted.dropped};
  },
};

/** The converters by the class name of the deterministic layer. */
export const CONVERTERS: ReadonlyMap<string, LayerConverter> = new Map([
  ['Dense', DENSE_CONVERTER],
  ['Conv2D', CONV2D_CONVERTER],
]);

/** Whether a class of that name is registered for serialization (so a config naming it can be deserialized). */
export function isRegistered(className: string): boolean {
  return tf.serialization.SerializationMap.getMap().classNameMap[className] !== undefined;
}

/**
 * The weights of a converted layer: the original's name, and the Bayesian
 * layer's posterior mean, untransformed scale and (with a centred prior,
 * `MopedPrior`) prior centres. The kernel always; the bias when the layer
 * has one (its scale and centres only with `bayesianBias`).
 */
export const CONVERTED_WEIGHTS: readonly {from: string, loc: string, untransformedScale: string, priorLoc: string}[] = [
  {from: 'kernel', loc: 'kernel_loc', untransformedScale: 'kernel_untransformed_scale', priorLoc: 'kernel_prior_loc'},
  {from: 'bias', loc: 'bias_loc', untransformedScale: 'bias_untransformed_scale', priorLoc: 'bias_prior_loc'},
];
