/**
 * The linear operations `y = op(x, W)` of the Bayesian layers, bilinear in
 * (x, W), which the estimators (`estimators.ts`) are written against once:
 * dense `x W` (`tf.matMul`) and the 2-D convolution `x ∗ W` (`tf.conv2d`,
 * channels last). Each also gives its output shape, so an estimator can
 * draw per-output noise before computing anything.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface LinearOp {
  /** `op(x, w)`, linear in each argument. */
  apply(x: tf.Tensor, w: tf.Tensor): tf.Tensor;
  /** The shape of `op(x, w)` for an input of `xShape` and a kernel of `wShape`. */
  outputShape(xShape: number[], wShape: number[]): number[];
}

/** Dense: `x W` for `x` `[batch, in]` and `W` `[in, out]`. */
export const MATMUL_OP: LinearOp = {
  apply: (x, w) => tf.matMul(x, w),
  outputShape: (xShape, wShape) => [xShape[0], wShape[1]],
};

export interface Conv2DOpArgs {
  strides: [number, number];
  padding: 'valid'|'same';
  dilations: [number, number];
}

/**
 * Convolution: `tf.conv2d(x, W, strides, padding, 'NHWC', dilations)` for `x`
 * `[batch, h, w, in]` and `W` `[kh, kw, in, filters]`, as tfjs's Conv2D layer.
 */
export function conv2dOp({strides, padding, dilations}: Conv2DOpArgs): LinearOp {
  return {
    apply: (x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, strides, padding, 'NHWC', dilations),
    outputShape: (xShape, wShape) => tf.backend_util.computeConv2DInfo(
        xShape as [number, number, number, number], wShape as [number, number, number, number],
        strides, dilations, padding, undefined, false, 'channelsLast').outShape,
  };
}
