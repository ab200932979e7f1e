/**
 * One op on tfjs's gradient tape whose backward pass gets the tensors the
 * forward kept, as they are. `engine.runKernelFunc`'s own `save` clones each
 * saved tensor, and a clone on the wasm backend is a copy (its Identity
 * kernel copies the data): for a kernel-sized tensor, tens of microseconds
 * per tensor and step. Here the forward makes what it keeps itself (a new
 * output of a fused pass, or a reshape of an input, which shares the input's
 * data), and the tensors join the tape node's saved list, which the engine
 * disposes after the backward pass exactly as it disposes its own clones.
 *
 * This reads two internals of tfjs-core's engine (`state.activeTape` and a
 * node's `saved`), as of the tfjs versions the fast kernels are enabled for
 * (`src/util/tfjs_version.ts`); callers use it only while the fast kernels
 * are on. Imports nothing of the library.
 */
import * as tf from '@tensorflow/tfjs-core';

interface TapeNode {
  outputs: tf.Tensor[];
  saved: tf.Tensor[];
}

interface EngineInternals {
  isTapeOn(): boolean;
  state: {activeTape: TapeNode[]|null};
  runKernelFunc(params: {
    forwardFunc: () => tf.Tensor[],
    backwardsFunc: (dys: tf.Tensor|tf.Tensor[], saved: tf.Tensor[]) => Record<string, () => tf.Tensor>,
    inputs: Record<string, tf.Tensor>,
  }): tf.Tensor[];
}

/** What a forward pass gives: its outputs, and (while a tape records) the tensors its backward pass needs. */
export interface TapeOpForward {
  outputs: tf.Tensor[];
  kept: tf.Tensor[];
}

/**
 * Runs `forward(taping)` as one tape node over `inputs` and returns its
 * outputs. `taping` says whether a gradient tape records (only then is
 * `kept` needed; otherwise it should be empty). `backward(dys, kept)` gives a
 * gradient function per input, `dys` one gradient per output (zeros where
 * none flows).
 */
export function runTapeOp(inputs: Record<string, tf.Tensor>, forward: (taping: boolean) => TapeOpForward,
    backward: (dys: tf.Tensor[], kept: tf.Tensor[]) => Record<string, () => tf.Tensor>): tf.Tensor[] {
  const engine = tf.engine() as unknown as EngineInternals;
  const taping = engine.isTapeOn();
  let kept: tf.Tensor[] = [];
  const outputs = engine.runKernelFunc({
    forwardFunc: () => {
      // Run inside the op (the tape records nothing of it); `keep` lets the kept tensors outlive the op's scope.
      const result = forward(taping);
      kept = result.kept.map((t) => tf.keep(t));
      return result.outputs;
    },
    backwardsFunc: (dys, saved) => backward(Array.isArray(dys) ? dys : [dys], saved),
    inputs,
  });
  if (kept.length > 0) {
    const tape = engine.state.activeTape;
    const node = tape === null ? undefined : tape[tape.length - 1];
    if (!taping || node === undefined || node.outputs[0] !== outputs[0]) {
      tf.dispose(kept);
      throw new Error('runTapeOp: the op\'s node is not the last on the gradient tape');
    }
    node.saved.push(...kept);
  }
  return outputs;
}
