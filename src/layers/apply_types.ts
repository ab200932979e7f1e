/**
 * Types of the typed `apply` overloads of our layers. tfjs-layers' own
 * `Layer.apply` takes and returns `Tensor|Tensor[]|SymbolicTensor|SymbolicTensor[]`,
 * so a strict TypeScript user would have to cast every result; our layers
 * declare what they really return: a symbolic tensor for symbolic inputs, a
 * tensor for tensors, a tuple for a pair, and — for inputs typed as tfjs's
 * union (the result of another layer's `apply`) — a single tensor of either
 * kind, or a pair of them.
 */
import type * as tf from '@tensorflow/tfjs-core';

import type {Kwargs, SymbolicTensor} from '../util/tfjs_types';

/** What tfjs-layers' `Layer.apply` takes and returns. */
export type LayerIO = tf.Tensor|tf.Tensor[]|SymbolicTensor|SymbolicTensor[];

/** One tensor, concrete or symbolic. */
export type AnyTensor = tf.Tensor|SymbolicTensor;

export type {Kwargs, SymbolicTensor};
