/**
 * Prediction with uncertainty: `predictive` (Monte Carlo summaries of the
 * predictive distribution) and the one switch between sampling and
 * posterior-mean prediction (`setInferenceMode`, `getInferenceModes`).
 */
export {predictive} from './predictive';
export type {ClassificationPrediction, Prediction, PredictiveArgs, PredictiveTask, RegressionPrediction} from './predictive';
export {getInferenceModes, setInferenceMode} from './inference_switch';
export type {LayerInferenceMode} from './inference_switch';
