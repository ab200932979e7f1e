/**
 * The base of the flow layers: a tfjs layer that is also a {@link Bijector}.
 * It owns what every flow layer shares — the `[batch, d]` input checks, the
 * optional per-example parameters as a second input, the typed `apply`
 * overloads, and `call` as the forward map — so a flow file holds only its
 * weights and its math.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type {Kwargs, Shape} from '../util/tfjs_types';
import {showShape} from '../util/validate';

import type {AnyTensor, LayerIO, SymbolicTensor} from '../layers/apply_types';
import type {Bijector} from './bijector';
import {noInverseError} from './bijector';

export abstract class FlowLayer extends tfl.layers.Layer implements Bijector {
  /** The size d of the rows the flow maps, known once built (−1 before). */
  protected dim = -1;

  /** The factory's name, which labels errors (`'planarFlow'`). */
  protected abstract readonly where: string;

  /**
   * The number P of per-example parameters (`params` `[batch, P]`) the flow
   * takes for rows of size d; 0 if it takes none.
   */
  abstract paramSize(d: number): number;

  /** Adds the weights of a flow on rows of size d. */
  protected abstract buildWeights(d: number): void;

  /** `[f(z), log|det ∂f/∂z|]` for checked inputs (called inside `tidy`). */
  protected abstract forward(z: tf.Tensor, params: tf.Tensor|null): [tf.Tensor, tf.Tensor];

  /** The size d of the rows the flow maps (−1 before the layer is built). */
  get eventSize(): number {
    return this.dim;
  }

  override build(inputShape: Shape|Shape[]): void {
    const [z] = this.checkShapes(inputShape);
    this.dim = z[1] as number;
    this.buildWeights(this.dim);
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape|Shape[]): Shape {
    return this.checkShapes(inputShape)[0];
  }

  /** `z` (or `[z, params]`) in, the transformed `z` out. */
  override apply(inputs: SymbolicTensor|[SymbolicTensor, SymbolicTensor], kwargs?: Kwargs): SymbolicTensor;
  override apply(inputs: tf.Tensor|[tf.Tensor, tf.Tensor], kwargs?: Kwargs): tf.Tensor;
  /** Results of other layers' `apply` (tfjs's union type) in, one tensor out. */
  override apply(inputs: LayerIO|[LayerIO, LayerIO], kwargs?: Kwargs): AnyTensor;
  override apply(inputs: LayerIO|[LayerIO, LayerIO], kwargs?: Kwargs): LayerIO {
    return super.apply(inputs as LayerIO, kwargs);
  }

  override call(inputs: tf.Tensor|tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length < 1 || list.length > 2) {
      throw new Error(`${this.where}: expected z or [z, params]. Received: ${list.length} inputs`);
    }
    return tf.tidy(() => {
      const [y, logDet] = this.forwardAndLogDet(list[0], list[1]);
      logDet.dispose();
      return y;
    });
  }

  /**
   * `[f(z), log|det ∂f/∂z|]`: `z` `[batch, d]`, the log-det `[batch]`.
   * `params` `[batch, paramSize(d)]` where the flow takes per-example
   * parameters. Builds the layer from `z`'s shape if it is not built yet
   * (through `apply`, so its weights are named in its own scope).
   */
  forwardAndLogDet(z: tf.Tensor, params?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    const p = this.checkTensors(z, params);
    return tf.tidy(() => this.forward(z, p));
  }

  /**
   * Where the flow has an inverse, `[f⁻¹(y), log|det ∂f⁻¹/∂y|]`; the base
   * throws an error naming the class.
   */
  inverseAndLogDet(_y: tf.Tensor, _params?: tf.Tensor): [tf.Tensor, tf.Tensor] {
    throw noInverseError(this);
  }

  /** Checks `z` (and `params`) as tensors, builds on first use, and returns `params` or null. */
  protected checkTensors(z: tf.Tensor, params: tf.Tensor|undefined): tf.Tensor|null {
    if (!(z instanceof tf.Tensor)) throw new Error(`${this.where}: expected z to be a tensor. Received: ${String(z)}`);
    if (params !== undefined && params !== null && !(params instanceof tf.Tensor)) {
      throw new Error(`${this.where}: expected params to be a tensor. Received: ${String(params)}`);
    }
    const shapes: Shape[] = params == null ? [z.shape] : [z.shape, params.shape];
    const [zShape, pShape] = this.checkShapes(shapes.length === 1 ? shapes[0] : shapes);
    if (!this.built) {
      // Built through `apply` on one zero row, so that the weights are named in the layer's scope
      // (`planar_flow_1/u`, as a model's build names them): built directly, two flows would both own a `u`.
      tf.tidy(() => {
        const zeroRow = tf.zeros([1, zShape[1] as number]);
        this.apply(pShape === null ? zeroRow : [zeroRow, tf.zeros([1, pShape[1] as number])]);
      });
    }
    for (const [name, t] of [['z', z], ['params', params]] as const) {
      if (t != null && t.dtype !== 'float32') {
        throw new Error(`${this.where}: expected ${name} to be float32. Received: ${name} dtype=${t.dtype}`);
      }
    }
    if (params != null && params.shape[0] !== z.shape[0]) {
      throw new Error(`${this.where}: expected params to have one row per row of z. ` +
          `Received: z shape=${showShape(z.shape)}, params shape=${showShape(params.shape)}`);
    }
    return params ?? null;
  }

  /** Checks `[batch, d]` (and `[batch, P]` for params) and returns the shapes. */
  protected checkShapes(inputShape: Shape|Shape[]): [Shape, Shape|null] {
    const nested = Array.isArray(inputShape) && inputShape.length > 0 && Array.isArray(inputShape[0]);
    const shapes = (nested ? inputShape : [inputShape]) as Shape[];
    if (shapes.length > 2) {
      throw new Error(`${this.where}: expected z or [z, params]. Received: ${shapes.length} inputs`);
    }
    const [z, p] = shapes;
    if (z.length !== 2 || z[1] == null) {
      throw new Error(`${this.where}: expected z of shape [batch, d] with d known. Received: z shape=${showShape(z)}`);
    }
    const d = z[1];
    if (this.dim !== -1 && d !== this.dim) {
      throw new Error(`${this.where}: layer '${this.name}' was built for rows of size ${this.dim}. ` +
          `Received: z shape=${showShape(z)}`);
    }
    const size = this.paramSize(d);
    if (p === undefined) {
      if (size > 0) {
        throw new Error(`${this.where}: layer '${this.name}' takes per-example parameters: expected [z, params] with ` +
            `params of shape [batch, ${size}]. Received: z alone`);
      }
      return [z, null];
    }
    if (size === 0) {
      throw new Error(`${this.where}: layer '${this.name}' takes no per-example parameters (it owns its weights; ` +
          `construct it with amortized: true, or a contextSize, to pass them). Received: params shape=${showShape(p)}`);
    }
    if (p.length !== 2 || p[1] !== size) {
      throw new Error(`${this.where}: expected params of shape [batch, ${size}] for rows of size ${d}. ` +
          `Received: params shape=${showShape(p)}`);
    }
    return [z, p];
  }
}
