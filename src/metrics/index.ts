/**
 * `tfv.metrics`: how good and how honest a classifier's probabilities are —
 * accuracy, negative log-likelihood, calibration (ECE, reliability diagram)
 * and AUROC (e.g. of an uncertainty score for out-of-distribution
 * detection). Plain numbers, computed in float64 on the CPU.
 */
export {accuracy, negativeLogLikelihood} from './classification';
export {expectedCalibrationError, reliabilityDiagram} from './calibration';
export type {CalibrationArgs, ReliabilityBin, ReliabilityDiagram} from './calibration';
export {auroc} from './ranking';
export type {LabelsInput, ProbabilitiesInput, ScoresInput} from './inputs';
