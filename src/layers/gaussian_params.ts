/**
 * The two ways our Gaussian layers take the parameters of a diagonal normal
 * `N(mu, diag(exp(logVar)))`: a list `[mu, logVar]` of equal shapes, or one
 * tensor whose last axis holds `mu` then `logVar` (size `2·d`), which lets a
 * `tf.sequential` model feed them from a single `Dense(2·d)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {Shape} from '../util/tfjs_types';

/** One input shape, or one per input. @inline */
export type ShapeArg = Shape|Shape[];

function isShapeList(s: ShapeArg): s is Shape[] {
  return Array.isArray(s[0]);
}

function same(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Checks the input shape(s) and returns the shape of `mu` (= of `logVar`).
 * `where` names the layer in error messages.
 */
export function gaussianParamShape(where: string, inputShape: ShapeArg): Shape {
  if (isShapeList(inputShape) && inputShape.length === 1) {
    // tf.sequential hands a single input over as a list of one.
    inputShape = inputShape[0];
  }
  if (isShapeList(inputShape)) {
    if (inputShape.length !== 2) {
      throw new Error(
          `${where}: expected inputs to be [mu, logVar] (2 tensors) or one tensor ` +
          `holding both on its last axis. Received: ${inputShape.length} inputs`);
    }
    const [mu, logVar] = inputShape;
    if (mu.length < 2) {
      throw new Error(`${where}: expected mu to have rank >= 2 ([batch, ...event]). Received: mu shape=[${mu}]`);
    }
    if (!same(mu, logVar)) {
      throw new Error(
          `${where}: expected mu and logVar to have the same shape. ` +
          `Received: mu shape=[${mu}], logVar shape=[${logVar}]`);
    }
    return mu;
  }
  const s = inputShape;
  if (s.length < 2) {
    throw new Error(`${where}: expected inputs to have rank >= 2 ([batch, ...event]). Received: inputs shape=[${s}]`);
  }
  const last = s[s.length - 1];
  if (last != null && last % 2 !== 0) {
    throw new Error(
        `${where}: a single input must hold [mu, logVar] on its last axis, so that axis must be even. ` +
        `Received: inputs shape=[${s}]`);
  }
  return [...s.slice(0, -1), last == null ? null : last / 2];
}

/** Splits concrete inputs into `[mu, logVar]` (checking shapes as above). */
export function splitGaussianParams(where: string, inputs: tf.Tensor|tf.Tensor[]): [tf.Tensor, tf.Tensor] {
  if (Array.isArray(inputs) && inputs.length === 1) {
    inputs = inputs[0];
  }
  if (Array.isArray(inputs)) {
    gaussianParamShape(where, inputs.map((t) => t.shape));
    return [inputs[0], inputs[1]];
  }
  gaussianParamShape(where, inputs.shape);
  const half = inputs.shape[inputs.shape.length - 1] / 2;
  const [mu, logVar] = tf.split(inputs, [half, half], -1);
  return [mu, logVar];
}
