/**
 * A 2-D convolution with a mean-field Gaussian posterior over its kernel
 * (and optionally its bias): the shared variational component
 * (`variational/`) with the linear operation `tf.conv2d`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Kwargs, Shape} from '../util/tfjs_types';

import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {argumentError, checkOneOf, checkPositiveInteger, LAYER_ARG_NAMES, showShape} from '../util/validate';
import type {AnyTensor, LayerIO, SymbolicTensor} from './apply_types';
import {conv2dOp, LinearOp} from './variational/linear_ops';
import {
  singleInputShape, singleInputTensor, VARIATIONAL_ARG_NAMES, VariationalEstimator, VariationalLayerArgs, VariationalLinearLayer,
} from './variational/variational_layer';

export type BayesianConv2DEstimator = VariationalEstimator;
export type BayesianConv2DPadding = 'valid'|'same';
export type BayesianConv2DDataFormat = 'channelsLast'|'channelsFirst';

const WHERE = 'bayesianConv2d';
const CONV_ARG_NAMES = ['filters', 'kernelSize', 'strides', 'padding', 'dataFormat', 'dilationRate'];
const BAYESIAN_CONV2D_ARG_NAMES = [...CONV_ARG_NAMES, ...VARIATIONAL_ARG_NAMES, ...LAYER_ARG_NAMES];
const PADDINGS: readonly BayesianConv2DPadding[] = ['valid', 'same'];
const DATA_FORMATS: readonly BayesianConv2DDataFormat[] = ['channelsLast', 'channelsFirst'];

export interface BayesianConv2DArgs extends VariationalLayerArgs {
  /** Output channels (the number of filters), a positive integer. */
  filters: number;
  /** The kernel's spatial size: `k` (a k × k kernel) or `[kh, kw]`, positive integers. */
  kernelSize: number|[number, number];
  /** Steps between applications of the kernel: `s` or `[sh, sw]`. Default 1. */
  strides?: number|[number, number];
  /** `'valid'` (default; no padding) or `'same'` (zero padding so that the output is ⌈input / stride⌉). */
  padding?: BayesianConv2DPadding;
  /**
   * `'channelsLast'` (default; inputs `[batch, height, width, channels]`) or
   * `'channelsFirst'` (`[batch, channels, height, width]`, computed through
   * transposes to channels last).
   */
  dataFormat?: BayesianConv2DDataFormat;
  /**
   * Dilation of the kernel: `d` or `[dh, dw]`. Default 1. Strides and
   * dilation cannot both exceed 1 (tfjs's conv2d), and tfjs 4.22 has no
   * gradient of conv2d with dilation > 1: a dilated layer predicts but does
   * not train (as tfjs's own Conv2D).
   */
  dilationRate?: number|[number, number];
}

function checkPair(name: string, value: unknown): [number, number] {
  if (typeof value === 'number') {
    const v = checkPositiveInteger(WHERE, name, value);
    return [v, v];
  }
  if (!Array.isArray(value) || value.length !== 2 || !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1)) {
    throw argumentError(WHERE, name, 'a positive integer or a pair [h, w] of positive integers', value);
  }
  return [value[0], value[1]];
}

function singleShape(inputShape: Shape|Shape[]): Shape {
  const shape = singleInputShape(WHERE, inputShape);
  if (shape.length !== 4) {
    throw new Error(`${WHERE}: expected the input to have rank 4 ([batch, height, width, channels] or, channels first, ` +
        `[batch, channels, height, width]). Received: input shape=${showShape(shape)}`);
  }
  return shape;
}

/** The output length of one spatial axis (tfjs's convOutputLength), or null if unknown. */
function outputLength(length: number|null, kernel: number, stride: number, dilation: number, padding: BayesianConv2DPadding): number|null {
  if (length == null) return null;
  const dilated = (kernel - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(length / stride) : Math.ceil((length - dilated + 1) / stride);
}

/**
 * A 2-D convolution `y = activation(x ∗ W + b)` whose kernel
 * `W` `[kh, kw, inChannels, filters]` (and optionally bias `b` `[filters]`)
 * has a factorised Gaussian posterior
 *
 *     q(W) = Π N(W_ijcf; μ_ijcf, σ_ijcf²),   σ = 10⁻⁵ + softplus(ρ),
 *
 * learned by variational inference (Bayes by Backprop, Blundell et al.
 * 2015, arXiv:1505.05424). Its weights are named as `BayesianDense`'s:
 * `kernel_loc` (μ), `kernel_untransformed_scale` (ρ), `bias_loc`, optionally
 * `bias_untransformed_scale`, and the non-trainable `kl_weight`. Through
 * `addLoss` it adds `klWeight · KL(q(W, b) ‖ p(W, b))` with klWeight = 1/N
 * by `numExamples` (exact for the Gaussian prior, Monte Carlo otherwise),
 * once per application.
 *
 * Estimators (`estimator`), with `∗` the convolution of `tf.conv2d`:
 * - `'reparameterization'` — `y = x ∗ (μ + σ ⊙ ε) + b`, one kernel draw per batch;
 * - `'localReparameterization'` — `y = x ∗ μ + b + √(x² ∗ σ²) ⊙ ζ`, every
 *   output sampled independently (Kingma et al. 2015, arXiv:1506.02557); the
 *   outputs of neighbouring positions, which share weights, become independent,
 *   so this is the marginal of each output, not the joint of a kernel draw;
 * - `'flipout'` — `y = x ∗ μ + b + ((x ⊙ s) ∗ (σ ⊙ ε)) ⊙ r` with random signs
 *   s per example and input channel and r per example and filter, shared by
 *   all positions (Wen et al. 2018, arXiv:1803.04386; TFP's Conv2DFlipout).
 *
 * **At training** the layer always samples, through its estimator, and
 * records the divergence. **Outside training** it samples too
 * (`inferenceMode: 'sample'`, default: repeated `predict` calls are Monte
 * Carlo predictions) or uses the posterior mean (`'mean'`: `x ∗ μ + μ_b`,
 * deterministic); the divergence is recorded there only during a
 * full-objective evaluation (`model.evaluate`, `tfv.evaluateObjective`),
 * never by `predict`.
 *
 * **Input:** `[batch, height, width, inChannels]` (`channelsFirst`:
 * `[batch, inChannels, height, width]`). **Output:** `[batch, outHeight,
 * outWidth, filters]` (or channels first), with `out = ⌈(in − (k − 1)·d) / s⌉`
 * for `'valid'` and `⌈in / s⌉` for `'same'`.
 */
export class BayesianConv2D extends VariationalLinearLayer {
  /** @nocollapse */
  static className = 'BayesianConv2D';

  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: BayesianConv2DPadding;
  readonly dataFormat: BayesianConv2DDataFormat;
  readonly dilationRate: [number, number];
  private readonly op: LinearOp;

  constructor(args: BayesianConv2DArgs) {
    super(WHERE, args, BAYESIAN_CONV2D_ARG_NAMES, 'filters, kernelSize');
    this.filters = checkPositiveInteger(WHERE, 'filters', args.filters);
    this.kernelSize = checkPair('kernelSize', args.kernelSize);
    this.strides = args.strides == null ? [1, 1] : checkPair('strides', args.strides);
    this.dilationRate = args.dilationRate == null ? [1, 1] : checkPair('dilationRate', args.dilationRate);
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((d) => d > 1)) {
      throw new Error(`${WHERE}: expected strides or dilationRate to be 1 (tfjs's conv2d supports one of them above 1). ` +
          `Received: strides=[${this.strides}], dilationRate=[${this.dilationRate}]`);
    }
    this.padding = args.padding == null ? 'valid' : checkOneOf(WHERE, 'padding', args.padding, PADDINGS);
    this.dataFormat = args.dataFormat == null ? 'channelsLast' : checkOneOf(WHERE, 'dataFormat', args.dataFormat, DATA_FORMATS);
    this.op = conv2dOp({strides: this.strides, padding: this.padding, dilations: this.dilationRate});
  }

  private get channelAxis(): number {
    return this.dataFormat === 'channelsLast' ? 3 : 1;
  }

  override build(inputShape: Shape|Shape[]): void {
    const shape = singleShape(inputShape);
    const inChannels = shape[this.channelAxis];
    if (inChannels == null) {
      throw new Error(`${WHERE}: expected the input's channel axis (${this.channelAxis}) to be known. ` +
          `Received: input shape=${showShape(shape)}`);
    }
    const [kh, kw] = this.kernelSize;
    this.buildPosterior([kh, kw, inChannels, this.filters], kh * kw * inChannels);
    this.inputSpec = [new tfl.InputSpec({ndim: 4, axes: {[this.channelAxis]: inChannels}})];
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape|Shape[]): Shape {
    const shape = singleShape(inputShape);
    const [h, w] = this.dataFormat === 'channelsLast' ? [shape[1], shape[2]] : [shape[2], shape[3]];
    const out = [0, 1].map((a) => outputLength([h, w][a], this.kernelSize[a], this.strides[a], this.dilationRate[a], this.padding));
    return this.dataFormat === 'channelsLast' ? [shape[0], out[0], out[1], this.filters] : [shape[0], this.filters, out[0], out[1]];
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
      const x = singleInputTensor(WHERE, inputs);
      singleShape(x.shape);
      const key = this.divergenceKey([x], kwargs);
      const channelsFirst = this.dataFormat === 'channelsFirst';
      const xLast = channelsFirst ? tf.transpose(x, [0, 2, 3, 1]) : x;
      const y = this.linearOutput(this.op, xLast, key, kwargs['training'] === true);
      return this.activate(channelsFirst ? tf.transpose(y, [0, 3, 1, 2]) : y);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      dataFormat: this.dataFormat,
      dilationRate: [...this.dilationRate],
      ...this.variationalConfig(),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(BayesianConv2D, SERIALIZATION_PACKAGE);

/**
 * A 2-D convolution with a Gaussian kernel posterior (Bayes by Backprop):
 * `y = activation(x ∗ W + b)` with `W ~ N(μ, σ²)` `[kh, kw, in, filters]`
 * sampled by `estimator`, adding `klWeight · KL(q(W) ‖ p(W))` to the
 * model's loss. At training it samples; at inference it samples
 * (`inferenceMode: 'sample'`) or uses the posterior mean (`'mean'`).
 *
 * **Input:** `[batch, height, width, channels]`. **Output:** `[batch, outHeight, outWidth, filters]`.
 *
 * References: Blundell et al. 2015 (arXiv:1505.05424); Kingma, Salimans &
 * Welling 2015 (arXiv:1506.02557); Wen et al. 2018 (arXiv:1803.04386).
 *
 * ```js
 * const model = tf.sequential({layers: [
 *   tfv.layers.bayesianConv2d({inputShape: [28, 28, 1], filters: 8, kernelSize: 3, activation: 'relu',
 *     estimator: 'flipout', numExamples: N}),
 *   tf.layers.flatten(),
 *   tfv.layers.bayesianDense({units: 10, estimator: 'flipout', numExamples: N}),
 * ]});
 * model.compile({optimizer: tf.train.adam(1e-3), loss: tfv.losses.categoricalNLL({fromLogits: true})});
 * await model.fit(x, y, {epochs: 5});
 * ```
 */
export function bayesianConv2d(args: BayesianConv2DArgs): BayesianConv2D {
  return new BayesianConv2D(args);
}
