/**
 * Backends the Node test suites run on. Every test that trains or computes
 * values is parameterised over these with `describe.each(NODE_BACKENDS)`.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export const NODE_BACKENDS = ['cpu', 'wasm'] as const;
export type NodeBackend = typeof NODE_BACKENDS[number];

/** Switches the global backend and waits until it is ready. */
export async function useBackend(name: string): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) {
    throw new Error(`backend '${name}' could not be initialised`);
  }
  await tf.ready();
}

/** Asserts two tensors have the same shape and values within `atol + rtol·|b|`. */
export function expectClose(
    a: tf.Tensor|number[]|number, b: tf.Tensor|number[]|number, rtol = 1e-5, atol = 1e-6): void {
  const av = toArray(a);
  const bv = toArray(b);
  if (a instanceof tf.Tensor && b instanceof tf.Tensor) {
    expect(a.shape).toEqual(b.shape);
  }
  expect(av.length).toBe(bv.length);
  for (let i = 0; i < av.length; i++) {
    const tol = atol + rtol * Math.abs(bv[i]);
    if (!(Math.abs(av[i] - bv[i]) <= tol)) {
      throw new Error(`element ${i}: ${av[i]} vs ${bv[i]} (tolerance ${tol})`);
    }
  }
}

function toArray(x: tf.Tensor|number[]|number): number[] {
  if (typeof x === 'number') return [x];
  if (Array.isArray(x)) return x;
  return Array.from(x.dataSync());
}
