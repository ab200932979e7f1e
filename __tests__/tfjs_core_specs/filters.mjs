/**
 * The spec selection of tfjs-backend-wasm's own test set-up
 * (`tfjs-backend-wasm/src/setup_test.ts` at tag tfjs-v4.22.0), restated as
 * data: which of tfjs-core's specs the wasm backend is expected to pass.
 *
 * A spec runs when its full name
 * - belongs to a plain `describe()` (no `test-wasm` environment in the name), or
 *   starts with `wasm`; otherwise when
 * - it contains the `include` of (or starts with the `startsWith` of) the first
 *   entry below that matches, and none of that entry's `excludes`
 *   (tfjs-core's `setupTestFilters` in `dist/jasmine_util.js` applies them).
 *
 * That set-up also imports `register_all_gradients` and
 * `register_all_chained_ops` of tfjs-core; child.mjs does the same. The wasm
 * package's own specs (`./tests` there) are not published, so not run.
 */
export const TEST_ENV = {name: 'test-wasm', backendName: 'wasm', isDataSync: true};

const G = 'gradient';
const C = 'complex';
const S = 'string';
/** [include or ^startsWith, ...excludes] in setup_test.ts's order. */
const TABLE = [
  ['^tensor ', C, 'derivative', 'Tensor2D float32 -> bool', 'Tensor2D int32 -> bool'],
  ['softmax'],
  ['pow', G],
  ['add ', G, 'upcasts when dtypes dont match', C],
  ['depthToSpace'],
  ['avgPool '],
  ['relu', 'derivative', G, 'valueAndGradients', 'broadcasted bias', 'fused A x B with 2d bias'],
  ['maxPool', 'ignores NaNs'],
  ['cropAndResize'],
  ['resizeBilinear'],
  ['resizeNearestNeighbor'],
  ['matmul ', 'valueAndGradients', G, 'zero in its shape', 'matmul followed by mul', 'upcasts',
   'fused A x B with 2d bias'],
  ['depthwiseConv2D ', 'broadcasted bias', G, 'NCHW'],
  ['conv2d ', 'broadcasted bias', G, 'backProp input x=[2,3,3,1] f=[2,2,1,1] s=1 p=0', 'NCHW',
   'relu bias stride 2 x=[1,8,8,16] f=[3,3,16,1] s=[2,2] d=8 p=same',
   'prelu bias stride 2 x=[1,8,8,16] f=[3,3,16,1] s=[2,2] d=8 p=same'],
  ['conv2dTranspose ', G],
  ['prelu ', G, 'derivative'],
  [' cast ', C, 'shallow slice an input that was cast'],
  ['gather', G],
  ['sigmoid ', 'sigmoidCrossEntropy', G],
  ['scatterND '],
  ['tensorScatterUpdate '],
  ['abs ', G, C],
  ['sub ', C, G, 'upcasts'],
  ['mul ', C, G],
  ['div ', G, 'upcasts', 'divNoNan'],
  ['batchNorm', G],
  ['slice '],
  ['stridedSlice '],
  ['rotate '],
  ['rotateWithOffset'],
  ['flipLeftRight '],
  ['square '],
  ['squaredDifference'],
  ['^min ', '2D, axis=0', 'index corresponds to start of a non-initial window', G],
  ['^max ', G],
  ['concat', C, G],
  ['transpose', 'accepts complex64 input'],
  ['oneHot'],
  ['split'],
  ['pad ', C, 'zerosLike'],
  ['clip', G, 'propagates NaNs', 'basic vec4'],
  ['addN'],
  ['nonMaxSuppression'],
  ['argmax '],
  ['argmin '],
  ['exp '],
  ['elu '],
  ['unstack'],
  ['minimum', G, 'broadcasts 2x1 Tensor2D and 2x2 Tensor2D'],
  ['maximum', G],
  ['log '],
  ['^equal ', S],
  ['greater ', S],
  ['greaterEqual', G, S],
  ['less ', S],
  ['lessEqual', G, S],
  ['notEqual', S],
  ['mean ', 'axis=0'],
  ['^reverse'],
  ['^sum '],
  ['^cumprod'],
  ['^cumsum'],
  ['^logicalAnd '],
  ['^logicalNot '],
  ['^logicalOr '],
  ['^logicalXor '],
  ['^tile ', G, 'string tensor'],
  ['^erf'],
  ['^sin '],
  ['^sinh '],
  ['^cos ', G],
  ['^cosh', G],
  ['^tan', G],
  ['^tanh ', G],
  ['^rsqrt ', G],
  ['^sqrt ', G],
  ['^where ', '1D condition with higher rank a and b', G],
  ['^zerosLike', C],
  ['^onesLike', C],
  ['prod'],
  ['floor'],
  ['floorDiv'],
  ['topk'],
  ['expandDims'],
  ['stack'],
  ['round', 'pool'],
  ['step kernel'],
  ['ceil'],
  ['mirrorPad'],
  ['^all', 'ignores NaNs'],
  ['^any', 'ignores NaNs'],
  ['image.transform'],
  ['batchToSpaceND'],
  ['spaceToBatchND'],
  ['sparseFillEmptyRows'],
  ['sparseReshape'],
  ['sparseSegmentMean'],
  ['sparseSegmentSum'],
  ['^sparseToDense', S],
  ['stringNGrams'],
  ['stringSplit'],
  ['stringToHashBucketFast'],
  ['reciprocal'],
  ['isNaN'],
  ...['atan ', 'acos ', 'acosh ', 'asin ', 'asinh ', 'diag ', 'denseBincount ', 'bitwiseAnd', 'broadcastArgs ',
      'searchSorted ', 'avgPool3d ', 'avgPool3dBackprop ', 'upperBound ', 'lowerBound ', 'dilation2d ',
      'localResponseNormalization ', 'log1p ', 'atan2 ', 'atanh ', 'isInf ', 'isFinite ', 'sign ', 'selu ',
      'softplus ', 'linspace', 'bincount', 'expm1 ', 'multinomial', 'unique', 'conv3d', 'mod '].map((s) => [s]),
];

/** The table as tfjs-core's `TestFilter` objects. */
export const FILTERS = TABLE.map(([match, ...excludes]) => {
  const filter = match.startsWith('^') ? {startsWith: match.slice(1)} : {include: match};
  return excludes.length > 0 ? {...filter, excludes} : filter;
});

/** Specs the wasm set-up runs whatever the filters say (its `customInclude`). */
export function alwaysIncluded(fullName) {
  return !fullName.includes(TEST_ENV.name) || fullName.startsWith('wasm');
}

/** Whether tfjs's wasm set-up runs the spec of this full name (tfjs-core's `setupTestFilters` over FILTERS). */
export function selectedByFilters(fullName) {
  if (alwaysIncluded(fullName)) return true;
  for (const f of FILTERS) {
    if ((f.include != null && fullName.includes(f.include)) || (f.startsWith != null && fullName.startsWith(f.startsWith))) {
      return !(f.excludes ?? []).some((e) => fullName.includes(e));
    }
  }
  return false;
}

/**
 * The message of a spec that fails on wasm for lack of the kernel this
 * library adds there (tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter`).
 */
export const MISSING_FILTER_KERNEL = "Kernel 'Conv2DBackpropFilter' not registered for backend 'wasm'";

/**
 * The convolution specs the filters leave out (conv2d, conv2dTranspose, fused
 * conv2d, conv1d, separableConv2d: their gradient specs, and the others excluded by
 * name). Both passes run them as extras: those failing with the kernels off
 * only for MISSING_FILTER_KERNEL must pass with the kernels on; those passing
 * with the kernels off must still pass with them on; the rest (excluded for
 * other reasons, failing either way) are only counted.
 */
export function isExtraConvSpec(fullName) {
  return !selectedByFilters(fullName) && /conv/i.test(fullName);
}
