/**
 * The inverse autoregressive flow of Kingma et al. (2016): a gated shift
 * of z whose shift and gate come from a MADE on z itself, so the Jacobian
 * is triangular and its log-det is a sum.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Initializer, LayerArgs, LayerVariable} from '../util/tfjs_types';

import {InitializerSpec, resolveInitializer, serializeInitializer} from '../layers/initializer_spec';
import {SERIALIZATION_PACKAGE} from '../util/serialization';
import {
  argumentError, checkBoolean, checkFiniteNumber, checkInteger, checkKnownOptions, checkOneOf, checkPositiveInteger,
  LAYER_ARG_NAMES,
} from '../util/validate';
import {FlowLayer} from './flow_layer';
import {autoregressiveOrder, checkOrder, MADE_ACTIVATIONS, MadeActivation, madeForward, madeMasks, MadeWeights} from './made';

const IAF_ARG_NAMES = ['hiddenUnits', 'numLayers', 'activation', 'order', 'reverse', 'contextSize', 'forgetBias',
  'kernelInitializer', ...LAYER_ARG_NAMES];

export interface InverseAutoregressiveFlowArgs extends LayerArgs {
  /** Units H of each hidden layer of the MADE. Default 32. */
  hiddenUnits?: number;
  /** Hidden layers L ≥ 1 of the MADE. Default 1. */
  numLayers?: number;
  /** Activation of the hidden layers: `'elu'` (default, as Kingma et al. 2016), `'relu'` or `'tanh'`. */
  activation?: MadeActivation;
  /**
   * The autoregressive order, a permutation of 0..d−1: `order[k]` is the
   * dimension that comes k-th (its shift and gate depend on
   * `z[order[0..k−1]]`). Default 0..d−1 (d−1..0 with `reverse`).
   */
  order?: number[]|null;
  /**
   * Reverses the default order (d−1..0); alternate it between stacked flows
   * so every dimension gets to depend on every other. Not with `order`.
   * Default false.
   */
  reverse?: boolean;
  /**
   * Size c of a per-example context `h` `[batch, c]` (the encoder's extra
   * output in Kingma et al. 2016), passed as `params`
   * (`forwardAndLogDet(z, h)`, `apply([z, h])`) and fed, unmasked, into the
   * MADE's first hidden layer. Default: no context.
   */
  contextSize?: number|null;
  /**
   * Initial bias b_s of the gate pre-activation s, so σ = sigmoid(s) starts
   * near sigmoid(b_s) and the flow near the identity (the forget-gate bias
   * of Kingma et al. 2016, who suggest +1 or +2). Default 2 (σ ≈ 0.88).
   */
  forgetBias?: number;
  /** Initializer of the MADE's kernels (hidden, context and both heads). Default `'glorotUniform'`. */
  kernelInitializer?: InitializerSpec;
}

/**
 * The inverse autoregressive flow (Kingma et al. 2016, arXiv:1606.04934,
 * section 4, in its numerically stable gated form):
 *
 *     [m, s] = MADE(z, h),   σ = sigmoid(s),
 *     f(z) = σ ⊙ z + (1 − σ) ⊙ m,
 *     log|det ∂f/∂z| = Σ_j log σ_j = −Σ_j softplus(−s_j),
 *
 * where m_j, s_j depend only on the dimensions before j in the
 * autoregressive order, so ∂f/∂z is triangular in that order with σ on its
 * diagonal. Log-sigmoid is computed as −softplus(−s) and 1 − σ as
 * sigmoid(−s): no log 0 or cancellation at large |s|.
 *
 * Weights: `kernel_0` `[d, H]`, `bias_0` `[H]`, `kernel_l` `[H, H]`,
 * `bias_l` …, `context_kernel` `[c, H]` with a context, `shift_kernel`,
 * `gate_kernel` `[H, d]`, `shift_bias`, `gate_bias` `[d]`. The masks are
 * rebuilt from the config. The inverse is sequential (d passes of the
 * MADE): `z = y + (y − m) ⊙ e^{−s}`, exact after pass d.
 *
 * **Input:** `z` `[batch, d]`, or `[z, h]` with a context.
 * **Output:** `f(z)` `[batch, d]`.
 */
export class InverseAutoregressiveFlow extends FlowLayer {
  /** @nocollapse */
  static className = 'InverseAutoregressiveFlow';

  readonly hiddenUnits: number;
  readonly numLayers: number;
  readonly activation: MadeActivation;
  readonly reverse: boolean;
  readonly contextSize: number|null;
  readonly forgetBias: number;
  protected readonly where = 'inverseAutoregressiveFlow';
  private readonly explicitOrder: number[]|null;
  private readonly kernelInitializer: Initializer;
  private resolvedOrder: number[] = [];
  private masks: {shape: [number, number], values: Float32Array}[] = [];
  private kernels: LayerVariable[] = [];
  private biases: LayerVariable[] = [];
  private contextKernel: LayerVariable|null = null;
  private heads: {shiftKernel: LayerVariable, shiftBias: LayerVariable, gateKernel: LayerVariable, gateBias: LayerVariable}|null = null;

  constructor(args: InverseAutoregressiveFlowArgs = {}) {
    const where = 'inverseAutoregressiveFlow';
    checkKnownOptions(where, args, IAF_ARG_NAMES);
    super(args);
    this.hiddenUnits = args.hiddenUnits == null ? 32 : checkPositiveInteger(where, 'hiddenUnits', args.hiddenUnits);
    this.numLayers = args.numLayers == null ? 1 : checkPositiveInteger(where, 'numLayers', args.numLayers);
    this.activation = args.activation == null ? 'elu' : checkOneOf(where, 'activation', args.activation, MADE_ACTIVATIONS);
    this.reverse = args.reverse == null ? false : checkBoolean(where, 'reverse', args.reverse);
    this.explicitOrder = args.order == null ? null : checkOrder(where, args.order);
    if (this.explicitOrder !== null && this.reverse) {
      throw new Error(`${where}: expected either order or reverse, not both. ` +
          `Received: order=[${this.explicitOrder.join(', ')}], reverse=true`);
    }
    if (args.contextSize != null) {
      checkInteger(where, 'contextSize', args.contextSize);
      if (args.contextSize < 1) throw argumentError(where, 'contextSize', 'a positive integer (or null: no context)', args.contextSize);
    }
    this.contextSize = args.contextSize == null ? null : args.contextSize;
    this.forgetBias = args.forgetBias == null ? 2 : checkFiniteNumber(where, 'forgetBias', args.forgetBias);
    this.kernelInitializer = resolveInitializer(where, 'kernelInitializer', args.kernelInitializer ?? 'glorotUniform');
  }

  /** The context size c (0 without a context): the `params` columns of `forwardAndLogDet(z, h)`. */
  paramSize(_d: number): number {
    return this.contextSize ?? 0;
  }

  /** The autoregressive order in use (`order[k]` comes k-th); empty before the layer is built. */
  get order(): number[] {
    return [...this.resolvedOrder];
  }

  protected buildWeights(d: number): void {
    this.resolvedOrder = autoregressiveOrder(this.where, d, this.explicitOrder, this.reverse);
    this.masks = madeMasks(d, this.hiddenUnits, this.numLayers, this.resolvedOrder);
    const h = this.hiddenUnits;
    const zeros = tfl.initializers.zeros();
    for (let l = 0; l < this.numLayers; l++) {
      this.kernels.push(this.addWeight(`kernel_${l}`, l === 0 ? [d, h] : [h, h], 'float32', this.kernelInitializer));
      this.biases.push(this.addWeight(`bias_${l}`, [h], 'float32', zeros));
    }
    if (this.contextSize !== null) {
      this.contextKernel = this.addWeight('context_kernel', [this.contextSize, h], 'float32', this.kernelInitializer);
    }
    this.heads = {
      shiftKernel: this.addWeight('shift_kernel', [h, d], 'float32', this.kernelInitializer),
      shiftBias: this.addWeight('shift_bias', [d], 'float32', zeros),
      gateKernel: this.addWeight('gate_kernel', [h, d], 'float32', this.kernelInitializer),
      gateBias: this.addWeight('gate_bias', [d], 'float32', tfl.initializers.constant({value: this.forgetBias})),
    };
  }

  /** `[m, s]` of the MADE at z (tensors in the caller's scope). */
  private shiftAndGate(z: tf.Tensor, context: tf.Tensor|null): [tf.Tensor, tf.Tensor] {
    const heads = this.heads!;
    const weights: MadeWeights = {
      kernels: this.kernels.map((k) => k.read()),
      biases: this.biases.map((b) => b.read()),
      contextKernel: this.contextKernel === null ? null : this.contextKernel.read(),
      shiftKernel: heads.shiftKernel.read(),
      shiftBias: heads.shiftBias.read(),
      gateKernel: heads.gateKernel.read(),
      gateBias: heads.gateBias.read(),
    };
    return madeForward(z, context, weights, this.masks, this.activation);
  }

  protected forward(z: tf.Tensor, params: tf.Tensor|null): [tf.Tensor, tf.Tensor] {
    const [m, s] = this.shiftAndGate(z, params);
    const y = tf.add(tf.mul(tf.sigmoid(s), z), tf.mul(tf.sigmoid(tf.neg(s)), m));
    // log sigmoid(s) = −softplus(−s): finite for every s, where log(sigmoid(s)) is log 0 from s ≈ −88.
    return [y, tf.neg(tf.sum(tf.softplus(tf.neg(s)), -1))];
  }

  /**
   * `[f⁻¹(y), log|det ∂f⁻¹/∂y|]` by d passes of the MADE: after pass k the
   * first k dimensions in the order are exact (each depends only on those
   * before it), `z = y + (y − m) ⊙ e^{−s}` (= (y − (1 − σ)m)/σ), and the
   * log-det is `Σ softplus(−s)` at the final z.
   */
  override inverseAndLogDet(y: tf.Tensor, params?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const context = this.checkTensors(y, params);
    return tf.tidy(() => {
      const d = this.dim;
      const rank = new Array<number>(d);
      this.resolvedOrder.forEach((dim, k) => { rank[dim] = k; });
      // Pass k keeps the dimensions of rank ≤ k (exact by then) and holds the others at 0, so no pass feeds the
      // MADE the unbounded values an unfinished dimension could take.
      let z = tf.zerosLike(y);
      let s: tf.Tensor|null = null;
      for (let pass = 0; pass < d; pass++) {
        const [m, gate] = this.shiftAndGate(z, context);
        const next = tf.add(y, tf.mul(tf.sub(y, m), tf.exp(tf.neg(gate))));
        const done = tf.tile(tf.tensor2d(rank.map((r) => r <= pass), [1, d], 'bool'), [y.shape[0], 1]);
        z = pass === d - 1 ? next : tf.where(done, next, tf.zerosLike(next));
        s = gate;
      }
      // s of the last pass was computed from z before its last update, which set only the last dimension in the
      // order, on which no m or s depends: it is s at the final z.
      return [z, tf.sum(tf.softplus(tf.neg(s!)), -1)] as [tf.Tensor, tf.Tensor];
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      hiddenUnits: this.hiddenUnits,
      numLayers: this.numLayers,
      activation: this.activation,
      order: this.explicitOrder === null ? null : [...this.explicitOrder],
      reverse: this.reverse,
      contextSize: this.contextSize,
      forgetBias: this.forgetBias,
      kernelInitializer: serializeInitializer(this.kernelInitializer),
      ...super.getConfig(),
    };
  }
}
tf.serialization.registerClass(InverseAutoregressiveFlow, SERIALIZATION_PACKAGE);

/**
 * An inverse autoregressive flow `f(z) = σ ⊙ z + (1 − σ) ⊙ m` with
 * `[m, s] = MADE(z, h)`, `σ = sigmoid(s)` (Kingma et al. 2016).
 *
 * ```js
 * const iaf = tfv.flows.inverseAutoregressiveFlow({hiddenUnits: 16, reverse: true});
 * const [zK, logDet] = iaf.forwardAndLogDet(tf.randomNormal([8, 4]));
 * ```
 */
export function inverseAutoregressiveFlow(args?: InverseAutoregressiveFlowArgs): InverseAutoregressiveFlow {
  return new InverseAutoregressiveFlow(args);
}
