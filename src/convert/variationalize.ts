/**
 * `tfv.variationalize(model, options)`: a Bayesian copy of a deterministic
 * model, its `Dense` and `Conv2D` layers replaced by `BayesianDense` and
 * `BayesianConv2D`, initialised from the trained weights by MOPED.
 *
 * The copy is rebuilt from the model's own config (tfjs's serialization): the
 * topology — inputs, outputs, branches, merges, nested models, a layer
 * applied several times — is the original's by construction, and every
 * layer that is not converted is a config round trip of its original with
 * the weights copied.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {LayerVariable} from '../util/tfjs_types';

import type {BayesianDenseEstimator} from '../layers/bayesian_dense';
import {isDivergenceLayer} from '../layers/divergence_layer';
import {checkInferenceMode, InferenceMode} from '../layers/inference_mode';
import {PriorConfig, PriorIdentifier, resolvePrior, serializePrior} from '../priors/prior';
import {deriveSeed} from '../util/seed';
import {
  argumentError, checkBoolean, checkKnownOptions, checkNonNegative, checkOneOf, checkPositive, checkPositiveInteger, checkSeed,
} from '../util/validate';
import {CONVERTED_WEIGHTS, CONVERTERS, isRegistered, VariationalSettings} from './layer_conversions';
import {DEFAULT_MOPED_DELTA, mopedUntransformedScale} from './moped';
import {MopedPrior} from './moped_prior';

type ConfigDict = tf.serialization.ConfigDict;

const WHERE = 'variationalize';
const ESTIMATORS: readonly BayesianDenseEstimator[] = ['reparameterization', 'localReparameterization', 'flipout'];
const INITIALIZATIONS = ['moped', 'fresh'] as const;
const OPTION_NAMES = [
  'numExamples', 'klWeight', 'estimator', 'prior', 'priorScale', 'bayesianBias', 'inferenceMode', 'seed', 'exclude',
  'initialize', 'mopedDelta', 'centerPrior',
];

/** How the posteriors of the converted layers start. @useDeclaredType */
export type VariationalizeInitialization = typeof INITIALIZATIONS[number];

export interface VariationalizeOptions {
  /**
   * N, the number of training examples: each converted layer adds
   * `KL(q ‖ p) / N` (as `bayesianDense({numExamples})`). Give this or `klWeight`.
   */
  numExamples?: number;
  /** Each converted layer's divergence multiplier directly (as `bayesianDense({klWeight})`). Give this or `numExamples`. */
  klWeight?: number;
  /** The estimator of every converted layer (`'reparameterization'`, default; `'localReparameterization'`; `'flipout'`). */
  estimator?: BayesianDenseEstimator;
  /**
   * The weight prior of every converted layer: a registered name
   * (`'gaussian'`, default), a `{className, config}` or an instance. Each
   * layer builds its own prior from its serialized form (no prior object is
   * shared between layers).
   */
  prior?: PriorIdentifier;
  /** Shorthand for `prior: tfv.priors.gaussian({scale: priorScale})`; only with the Gaussian prior. */
  priorScale?: number;
  /** Whether the biases get a Gaussian posterior too (default false: point estimates, as TFP). */
  bayesianBias?: boolean;
  /** `'sample'` (default) or `'mean'` for every converted layer outside training; settable later per layer. */
  inferenceMode?: InferenceMode;
  /**
   * Makes the copy repeatable: the k-th converted layer (in the order of the
   * model's config, nested models depth first) gets the noise seed
   * `deriveSeed(seed, 2k)`, and with `initialize: 'fresh'` seeded
   * initializers derived from `deriveSeed(seed, 2k + 1)`. Default: unseeded.
   */
  seed?: number;
  /**
   * Names of layers to keep deterministic: a layer's name, or its path
   * through nested models (`'encoder/dense1'`); a nested model's name keeps
   * all of its layers. Every name must match a layer.
   */
  exclude?: string[];
  /**
   * `'moped'` (default): posterior means = the trained weights and
   * σ = max(δ|w|, 2·10⁻⁵) (Krishnan et al. 2020); the biases' means = the
   * trained biases (their σ likewise with `bayesianBias`). `'fresh'`: the
   * Bayesian layers' own initializers (nothing copied into them).
   */
  initialize?: VariationalizeInitialization;
  /** δ of MOPED, σ = δ·|w| (a positive number; default 0.1). Only with `initialize: 'moped'`. */
  mopedDelta?: number;
  /**
   * MOPED's empirical-Bayes prior: centre each weight's prior on its trained
   * value, `p(w_i) = N(w_i; w_trained,i, s²)` with `s = priorScale`
   * (default 1), instead of `prior`'s `N(0, s²)`. The centres are a
   * non-trainable weight of each layer (`kernel_prior_loc`, and
   * `bias_prior_loc` with `bayesianBias`), saved with the model. Default
   * false; only with `initialize: 'moped'` and without `prior`.
   */
  centerPrior?: boolean;
}

/** A layer of the copy that stayed deterministic (a plain copy of the original), and why. */
export interface UnconvertedLayer {
  /** The layer's path: its name, prefixed by the names of the nested models holding it (`'encoder/conv1'`). */
  name: string;
  /** Its tfjs class name (`'Conv1D'`, `'BatchNormalization'`, …). */
  className: string;
  reason: string;
}

/** Options of an original layer that its Bayesian replacement does not have (a regularizer, a constraint). */
export interface DroppedOptions {
  name: string;
  options: string[];
}

export interface VariationalizeResult<M extends tfl.LayersModel = tfl.LayersModel> {
  /** The Bayesian copy: a new, uncompiled model (a `Sequential` for a `Sequential`). */
  model: M;
  /** The paths of the converted layers, in the order of the model's config. */
  converted: string[];
  /**
   * The layers with weights that stayed deterministic (excluded, of a class
   * with no Bayesian counterpart, or with an option the counterpart lacks).
   * Layers without weights (Dropout, Flatten, …) and layers that already
   * are Bayesian are not listed.
   */
  unconverted: UnconvertedLayer[];
  /** For each converted layer that had regularizers or constraints: which ones were left out. */
  droppedOptions: DroppedOptions[];
}

interface CheckedOptions {
  settings: Omit<VariationalSettings, 'seed'|'initializerSeed'>;
  seed?: number;
  exclude: string[];
  initialize: VariationalizeInitialization;
  mopedDelta: number;
  centerPrior: boolean;
}

function checkOptions(options: unknown): CheckedOptions {
  if (options == null || typeof options !== 'object' || Array.isArray(options)) {
    throw argumentError(WHERE, 'options', 'an options object with numExamples (or klWeight)', options);
  }
  checkKnownOptions(WHERE, options, OPTION_NAMES);
  const o = options as VariationalizeOptions;
  if (o.numExamples != null && o.klWeight != null) {
    throw new Error(`${WHERE}: expected only one of numExamples and klWeight. ` +
        `Received: numExamples=${o.numExamples}, klWeight=${o.klWeight}`);
  }
  if (o.numExamples == null && o.klWeight == null) {
    throw new Error(`${WHERE}: expected numExamples (the training set size N; each layer's KL divergence is scaled by 1/N) ` +
        `or klWeight (its multiplier). Received: numExamples=${o.numExamples}, klWeight=${o.klWeight}`);
  }
  const settings: CheckedOptions['settings'] = {
    bayesianBias: o.bayesianBias == null ? false : checkBoolean(WHERE, 'bayesianBias', o.bayesianBias),
  };
  if (o.numExamples != null) settings.numExamples = checkPositiveInteger(WHERE, 'numExamples', o.numExamples);
  if (o.klWeight != null) settings.klWeight = checkNonNegative(WHERE, 'klWeight', o.klWeight);
  if (o.estimator != null) settings.estimator = checkOneOf(WHERE, 'estimator', o.estimator, ESTIMATORS);
  if (o.prior != null) {
    // Resolved once to check it and to store its serialized form: each layer then builds its own prior.
    const prior = resolvePrior(WHERE, 'prior', o.prior);
    settings.prior = typeof o.prior === 'string' ? o.prior : serializePrior(prior) as PriorConfig;
  }
  if (o.priorScale != null) {
    if (o.prior != null && o.prior !== 'gaussian') {
      throw argumentError(WHERE, 'priorScale', 'given only with the Gaussian prior (prior \'gaussian\' or unset)', o.priorScale);
    }
    settings.priorScale = checkPositive(WHERE, 'priorScale', o.priorScale);
  }
  if (o.inferenceMode != null) settings.inferenceMode = checkInferenceMode(WHERE, o.inferenceMode);
  const initialize = o.initialize == null ? 'moped' : checkOneOf(WHERE, 'initialize', o.initialize, INITIALIZATIONS);
  if (o.mopedDelta != null && initialize !== 'moped') {
    throw argumentError(WHERE, 'mopedDelta', 'given only with initialize \'moped\'', o.mopedDelta);
  }
  const mopedDelta = o.mopedDelta == null ? DEFAULT_MOPED_DELTA : checkPositive(WHERE, 'mopedDelta', o.mopedDelta);
  const centerPrior = o.centerPrior == null ? false : checkBoolean(WHERE, 'centerPrior', o.centerPrior);
  if (centerPrior) {
    if (initialize !== 'moped') throw argumentError(WHERE, 'centerPrior', 'true only with initialize \'moped\'', centerPrior);
    if (o.prior != null) {
      throw new Error(`${WHERE}: expected no prior with centerPrior (the centred prior is N(w_trained, priorScale²)). ` +
          `Received: prior=${typeof o.prior === 'string' ? `'${o.prior}'` : JSON.stringify(settings.prior)}`);
    }
    // Each layer builds its own MopedPrior (its centres are that layer's weights), of scale priorScale.
    settings.prior = {className: MopedPrior.className, config: {scale: settings.priorScale ?? 1}};
    delete settings.priorScale;
  }
  let exclude: string[] = [];
  if (o.exclude != null) {
    if (!Array.isArray(o.exclude) || !o.exclude.every((n) => typeof n === 'string' && n.length > 0)) {
      throw argumentError(WHERE, 'exclude', 'an array of layer names (non-empty strings)', o.exclude);
    }
    exclude = [...o.exclude];
  }
  const checked: CheckedOptions = {settings, exclude, initialize, mopedDelta, centerPrior};
  if (o.seed != null) checked.seed = checkSeed(WHERE, 'seed', o.seed);
  return checked;
}

/** What happens to one layer of the original. */
type LayerPlan =
  | {kind: 'container', model: tfl.LayersModel}
  | {kind: 'converted', path: string}
  | {kind: 'copied'};

/** True for a model used as a layer (a `tf.sequential` or functional model nested in another). */
function isContainer(layer: tfl.layers.Layer): layer is tfl.LayersModel {
  return layer instanceof tfl.LayersModel;
}

/**
 * Walks the original's config and layers together, rewriting the config of
 * each layer to convert, and recording what happens to every layer.
 */
class Planner {
  readonly converted: string[] = [];
  readonly unconverted: UnconvertedLayer[] = [];
  readonly droppedOptions: DroppedOptions[] = [];
  readonly plans = new Map<tfl.layers.Layer, LayerPlan>();
  private readonly excludeMatched = new Set<string>();
  /** Where each layer instance was first seen (a layer in two containers cannot keep its sharing in a rebuilt copy). */
  private readonly seenIn = new Map<tfl.layers.Layer, string>();

  constructor(private readonly options: CheckedOptions) {}

  /** Rewrites the `layers` of a container's config (in place; the config is a private deep copy). */
  planContainer(model: tfl.LayersModel, config: ConfigDict, prefix: string, excluded: boolean): void {
    const entries = config['layers'];
    if (!Array.isArray(entries)) {
      throw new Error(`${WHERE}: the config of model '${model.name}' has no layer list; cannot copy it`);
    }
    const byName = new Map(model.layers.map((l) => [l.name, l]));
    for (const entry of entries as ConfigDict[]) {
      const layerConfig = entry['config'] as ConfigDict;
      const name = String(entry['name'] ?? layerConfig['name']);
      const layer = byName.get(name);
      if (layer === undefined) {
        throw new Error(`${WHERE}: the config of model '${model.name}' lists a layer '${name}' that the model does not have`);
      }
      const path = prefix + name;
      this.noteInstance(layer, path);
      const isExcluded = excluded || this.matchesExclude(name, path);
      const className = String(entry['className']);
      if (isContainer(layer)) {
        this.plans.set(layer, {kind: 'container', model: layer});
        this.planContainer(layer, layerConfig, `${path}/`, isExcluded);
        continue;
      }
      if (!isRegistered(className)) {
        throw new Error(`${WHERE}: layer '${path}' is of class ${className}, which is not registered for serialization ` +
            '(tf.serialization.registerClass), so it cannot be copied');
      }
      const plan = this.planLayer(layer, entry, path, className, isExcluded);
      this.plans.set(layer, plan);
    }
  }

  private planLayer(layer: tfl.layers.Layer, entry: ConfigDict, path: string, className: string, excluded: boolean): LayerPlan {
    const converter = CONVERTERS.get(className);
    const hasWeights = layer.weights.length > 0;
    const refuse = (reason: string): LayerPlan => {
      if (hasWeights && !isDivergenceLayer(layer)) this.unconverted.push({name: path, className, reason});
      return {kind: 'copied'};
    };
    if (converter === undefined) {
      return refuse(`no Bayesian counterpart for ${className} (variationalize converts Dense and Conv2D)`);
    }
    if (excluded) return refuse('listed in options.exclude');
    const k = this.converted.length;
    const seed = this.options.seed;
    const settings: VariationalSettings = {...this.options.settings};
    if (seed !== undefined) {
      settings.seed = deriveSeed(seed, 2 * k);
      if (this.options.initialize === 'fresh') settings.initializerSeed = deriveSeed(seed, 2 * k + 1);
    }
    const result = converter.convert(entry['config'] as ConfigDict, settings);
    if ('reason' in result) return refuse(result.reason);
    entry['className'] = result.className;
    entry['config'] = result.config;
    this.converted.push(path);
    if (result.dropped.length > 0) this.droppedOptions.push({name: path, options: result.dropped});
    return {kind: 'converted', path};
  }

  private matchesExclude(name: string, path: string): boolean {
    let hit = false;
    for (const e of this.options.exclude) {
      if (e === name || e === path) {
        this.excludeMatched.add(e);
        hit = true;
      }
    }
    return hit;
  }

  private noteInstance(layer: tfl.layers.Layer, path: string): void {
    const first = this.seenIn.get(layer);
    if (first !== undefined) {
      throw new Error(`${WHERE}: layer '${path}' is also '${first}': one layer shared between nested models cannot be ` +
          'copied with its sharing kept (tfjs serializes it twice); share it within one model instead');
    }
    this.seenIn.set(layer, path);
  }

  /** Throws for names of `exclude` that matched no layer. */
  checkExcludeMatched(): void {
    const missing = this.options.exclude.filter((e) => !this.excludeMatched.has(e));
    if (missing.length > 0) {
      throw argumentError(WHERE, 'exclude', 'names or paths of layers of the model', missing);
    }
  }
}

/** The layer's weight whose name (within its layer) is `name`, or undefined. */
function weightNamed(layer: tfl.layers.Layer, name: string): LayerVariable|undefined {
  return layer.weights.find((w) => w.originalName === name || w.originalName.endsWith(`/${name}`));
}

/** Copies the weights of `source`'s layers into `target`'s: plain copies, or MOPED posteriors for converted layers. */
function copyWeights(source: tfl.LayersModel, target: tfl.LayersModel, planner: Planner, options: CheckedOptions): void {
  const targetLayers = new Map(target.layers.map((l) => [l.name, l]));
  for (const layer of source.layers) {
    const copy = targetLayers.get(layer.name);
    const plan = planner.plans.get(layer);
    if (copy === undefined || plan === undefined) {
      throw new Error(`${WHERE}: internal error: no copy of layer '${layer.name}' of model '${source.name}'`);
    }
    if (plan.kind === 'container') {
      copyWeights(plan.model, copy as tfl.LayersModel, planner, options);
    } else if (plan.kind === 'converted') {
      if (options.initialize === 'moped') initializeMoped(layer, copy, plan.path, options.mopedDelta);
    } else if (layer.weights.length > 0) {
      copy.setWeights(layer.getWeights());
    }
  }
}

/**
 * μ = w, σ = max(δ|w|, 2·10⁻⁵) for the kernel (and the bias's μ, and its σ
 * when it is Bayesian); with a centred prior, its centres `m = w` too.
 */
function initializeMoped(layer: tfl.layers.Layer, copy: tfl.layers.Layer, path: string, delta: number): void {
  for (const {from, loc, untransformedScale, priorLoc} of CONVERTED_WEIGHTS) {
    const w = weightNamed(layer, from);
    if (w === undefined) {
      // A built Dense or Conv2D always has a kernel (tfjs builds every layer of a model); the bias only with useBias.
      if (from === 'bias') continue;
      throw new Error(`${WHERE}: internal error: layer '${path}' has no weight ${from}`);
    }
    const target = weightNamed(copy, loc);
    if (target === undefined) {
      throw new Error(`${WHERE}: internal error: the Bayesian copy of layer '${path}' has no weight ${loc}`);
    }
    const value = w.read();
    target.write(value);
    weightNamed(copy, priorLoc)?.write(value);
    const rhoVar = weightNamed(copy, untransformedScale);
    if (rhoVar !== undefined) {
      const rho = mopedUntransformedScale(value, delta);
      rhoVar.write(rho);
      rho.dispose();
    }
  }
}

/**
 * A Bayesian copy of a deterministic model: every `Dense` becomes a
 * `tfv.layers.bayesianDense` and every `Conv2D` a `tfv.layers.bayesianConv2d`
 * with the same architecture (units or filters, kernel size, strides,
 * padding, dilation, activation, useBias) and the same name; every other
 * layer is copied unchanged (its config and weights). The topology is the
 * original's: inputs, outputs, branches and merges, nested models (converted
 * inside too), and a layer applied several times stays one layer applied
 * several times (its weights shared). The original is not modified.
 *
 * Each converted layer adds `klWeight · KL(q(W) ‖ p(W))` to the loss, and its
 * posterior `q(W) = Π N(μ, σ²)` starts, by default, from the trained weights
 * by MOPED (Krishnan, Subedar & Tickoo 2020, arXiv:1906.05323; as
 * bayesian-torch's `dnn_to_bnn` with `moped_enable`):
 *
 *     μ = w,   σ = max(δ·|w|, 2·10⁻⁵),   ρ = softplus⁻¹(σ − 10⁻⁵)   (σ = 10⁻⁵ + softplus(ρ)),
 *
 * with the biases copied into `bias_loc`. The prior is `prior` as given, or,
 * with `centerPrior`, MOPED's empirical-Bayes prior centred weight by weight
 * on the trained values, `p(w_i) = N(w_i; w_trained,i, priorScale²)`.
 *
 * The result reports what was converted: `converted` (layer paths),
 * `unconverted` (layers with weights kept deterministic, with the reason:
 * excluded, no Bayesian counterpart — Conv1D, DepthwiseConv2D, LSTM,
 * BatchNormalization, … — or an option the counterpart lacks, such as
 * `Conv2D` with `dataFormat: 'channelsFirst'`) and `droppedOptions`
 * (regularizers and constraints of converted layers, which the Bayesian
 * layers do not have). Nothing is logged.
 *
 * The copy is an ordinary tfjs model, not compiled: `compile`, `fit`,
 * `save`, and `tf.loadLayersModel` (after `import 'tfjs-variational'`) work
 * as for any model. A nested model's path in the report is `outer/inner`.
 * A layer instance shared between two different nested models is refused
 * (a rebuilt copy cannot keep that sharing).
 *
 * ```js
 * const net = tf.sequential({layers: [
 *   tf.layers.dense({inputShape: [8], units: 16, activation: 'relu'}),
 *   tf.layers.dropout({rate: 0.1}),
 *   tf.layers.dense({units: 1}),
 * ]});
 * // … net.compile(…); await net.fit(x, y, …);
 * const {model, converted, unconverted} = tfv.variationalize(net, {numExamples: 1000, mopedDelta: 0.1, seed: 7});
 * model.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.gaussianNLL({scale: 1})});
 * await model.fit(x, y, {epochs: 10});
 * ```
 */
export function variationalize(model: tfl.Sequential, options: VariationalizeOptions): VariationalizeResult<tfl.Sequential>;
export function variationalize(model: tfl.LayersModel, options: VariationalizeOptions): VariationalizeResult<tfl.LayersModel>;
export function variationalize(model: tfl.LayersModel, options: VariationalizeOptions): VariationalizeResult<tfl.LayersModel> {
  if (!(model instanceof tfl.LayersModel)) {
    throw argumentError(WHERE, 'model', 'a tfjs LayersModel (tf.sequential or tf.model)', model);
  }
  const checked = checkOptions(options);
  const sequential = model instanceof tfl.Sequential;
  // A deep copy: fromConfig consumes (deletes from) the config it is given.
  const config = JSON.parse(JSON.stringify(model.getConfig())) as ConfigDict;
  const planner = new Planner(checked);
  planner.planContainer(model, config, '', false);
  planner.checkExcludeMatched();
  const copy = sequential ?
      tfl.Sequential.fromConfig(tfl.Sequential, config) as tfl.Sequential :
      tfl.LayersModel.fromConfig(tfl.LayersModel, config) as tfl.LayersModel;
  try {
    copyWeights(model, copy, planner, checked);
  } catch (e) {
    copy.dispose();
    throw e;
  }
  return {model: copy, converted: planner.converted, unconverted: planner.unconverted, droppedOptions: planner.droppedOptions};
}
