/**
 * tfjs-variational: variational inference and Bayesian deep learning layers
 * for TensorFlow.js.
 *
 * Importing this module registers every class for serialization (so
 * `tf.loadLayersModel` finds them), switches `model.evaluate` and `fit`'s
 * validation to the full objective (compiled loss + layer losses), adds the
 * data term and each divergence to `fit`'s logs (`patches/term_logs.ts`), replaces
 * the wasm backend's slow matrix-product, gather and slice kernels with fast
 * ones (see `src/perf`; `disableFastWasmKernels()` undoes it), and, in Node
 * without tfjs-node, registers a `file://` save/load handler.
 */
import * as callbacks from './callbacks';
import {installModelPatches} from './patches/model_patches';
import * as distributions from './distributions';
import * as flows from './flows';
import * as io from './io';
import * as layers from './layers';
import * as losses from './losses';
import * as metrics from './metrics';
import * as objectives from './objectives';
import * as priors from './priors';
import {applyFastWasmKernelsDefault} from './perf';

export {callbacks, distributions, flows, io, layers, losses, metrics, objectives, priors};
export {estimateLogLikelihood} from './objectives';
export type {EstimateLogLikelihoodArgs, LogLikelihoodEstimate} from './objectives';
export {isFullObjectiveEvaluation, setFullObjectiveEvaluation} from './patches/full_objective';
export {evaluateObjective} from './objectives/evaluate';
export type {BatchIterable, EvaluateObjectiveArgs, ObjectiveResult} from './objectives/evaluate';
export {getInferenceModes, predictive, setInferenceMode} from './predictive';
export type {
  ClassificationPrediction, LayerInferenceMode, Prediction, PredictiveArgs, PredictiveTask, RegressionPrediction,
} from './predictive';
export {isTermLogs, setTermLogs} from './patches/term_logs';
export {
  FAST_WASM_KERNELS_FLAG,
  disableFastWasmKernels,
  enableFastWasmKernels,
  getFastWasmKernelsStats,
  isFastWasmKernelsActive,
  isFastWasmKernelsEnabled,
} from './perf';
export type {FastWasmKernelsOptions, FastWasmKernelsStats} from './perf';
export {ALLOW_UNTESTED_TFJS_FLAG, TESTED_TFJS} from './perf';
export {version} from './version';
export {variationalize} from './convert';
export type {
  DroppedOptions, UnconvertedLayer, VariationalizeInitialization, VariationalizeOptions, VariationalizeResult,
} from './convert';

installModelPatches();
io.registerFileSystemRouter();
applyFastWasmKernelsDefault();
