/**
 * The constructor contract of priors, checked when a prior class is
 * registered (a constructor taking positional numbers used to register fine
 * and fail deep inside an op during training), and unknown prior options.
 */
import * as tf from '@tensorflow/tfjs-core';

import * as tfv from '../src';
import {normalLogProb} from '../src/distributions/normal';
import {useBackend} from './helpers/backends';

type PriorClass = Parameters<typeof tfv.priors.registerPrior>[1];

beforeAll(async () => useBackend('cpu'));

it('rejects a prior whose constructor takes a number, at registration, naming the class and the contract', () => {
  class Positional extends tfv.priors.Prior {
    static className = 'PositionalPriorForTest';
    constructor(readonly scale: number) { super(); }
    logProb(w: tf.Tensor) { return normalLogProb(w, 0, this.scale); }
    getConfig() { return {scale: this.scale} as unknown as tf.serialization.ConfigDict; }
  }
  expect(() => tfv.priors.registerPrior('positional', Positional as unknown as PriorClass))
      .toThrow(/^registerPrior: PositionalPriorForTest rebuilt from its config .*; a prior's constructor takes one config object/);
  expect(tfv.priors.registeredPriorNames()).not.toContain('positional');
});

it('rejects two-parameter constructors, a missing className, configs that do not round-trip, and wrong logProb shapes', () => {
  class TwoArgs extends tfv.priors.Prior {
    static className = 'TwoArgsPriorForTest';
    constructor(readonly a = 1, readonly b = 2) { super(); }
    logProb(w: tf.Tensor) { return tf.mul(w, this.a + this.b); }
    getConfig() { return {}; }
  }
  // Default parameter values do not count towards Function.length; declare two without defaults.
  const twoRequired = function(this: unknown, _a: number, _b: number) {} as unknown as PriorClass;
  Object.setPrototypeOf(twoRequired.prototype, tfv.priors.Prior.prototype);
  (twoRequired as unknown as {className: string}).className = 'TwoRequired';
  expect(() => tfv.priors.registerPrior('two', twoRequired))
      .toThrow(/the constructor of TwoRequired takes 2 parameters; a prior's constructor takes one config object/);
  // Positional parameters with defaults pass the arity check but get the config object as `a`: the probe sees it.
  expect(() => tfv.priors.registerPrior('twoArgs', TwoArgs as unknown as PriorClass))
      .toThrow(/^registerPrior: TwoArgsPriorForTest.logProb failed on w = \[0, 0\] with the config \{\}/);

  class NoName extends tfv.priors.Prior {
    logProb(w: tf.Tensor) { return tf.zerosLike(w); }
    getConfig() { return {}; }
  }
  expect(() => tfv.priors.registerPrior('noName', NoName as unknown as PriorClass))
      .toThrow(/static className/);

  class Forgetful extends tfv.priors.Prior {
    static className = 'ForgetfulPriorForTest';
    readonly s: number;
    constructor(args: {s?: number} = {}) { super(); this.s = (args.s ?? 1) * 2; }
    logProb(w: tf.Tensor) { return tf.mul(w, this.s); }
    getConfig() { return {s: this.s}; }
  }
  expect(() => tfv.priors.registerPrior('forgetful', Forgetful as unknown as PriorClass))
      .toThrow(/ForgetfulPriorForTest rebuilt from its config \{"s":2\} has the config \{"s":4\}/);

  class Scalar extends tfv.priors.Prior {
    static className = 'ScalarPriorForTest';
    constructor(_args = {}) { super(); }
    logProb(w: tf.Tensor) { return tf.sum(w); }
    getConfig() { return {}; }
  }
  expect(() => tfv.priors.registerPrior('scalar', Scalar as unknown as PriorClass))
      .toThrow(/ScalarPriorForTest.logProb\(w\) must return a tensor of w's shape \[2\]. Received: shape \[\]/);
});

it('built-in priors reject unknown options, listing the known ones', () => {
  expect(() => tfv.priors.gaussian({sigma: 1} as unknown as {scale: number}))
      .toThrow("gaussianPrior: unknown option 'sigma'. Known options: loc, scale");
  expect(() => tfv.priors.scaleMixture({pi: 0.5, sigma1: 1} as unknown as {pi: number}))
      .toThrow("scaleMixturePrior: unknown option 'sigma1'. Known options: pi, scale1, scale2");
  expect(() => tfv.layers.bayesianDense({units: 1, numExamples: 4, prior: {className: 'GaussianPrior', config: {sigma: 1}}}))
      .toThrow(/gaussianPrior: unknown option 'sigma'/);
});
