/**
 * The constructor contract of priors, checked when a prior class is
 * registered (a constructor taking positional numbers used to register fine
 * and fail deep inside an op during training), and unknown prior options.
 */
import * as tf from '@tensorflow/tfjs-core';

import * as tfv from '../src';
import {normalLogProb} from '../src/distributions/normal';
import {expectClose, useBackend} from './helpers/backends';

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
      .toThrow("gaussianPrior: unknown option 'sigma'. Known options: loc, scale, scaleByFanIn, biasScale");
  expect(() => tfv.priors.scaleMixture({pi: 0.5, sigma1: 1} as unknown as {pi: number}))
      .toThrow("scaleMixturePrior: unknown option 'sigma1'. Known options: pi, scale1, scale2, mcSamples");
  expect(() => tfv.layers.bayesianDense({units: 1, numExamples: 4, prior: {className: 'GaussianPrior', config: {sigma: 1}}}))
      .toThrow(/gaussianPrior: unknown option 'sigma'/);
});

describe('the prior-binding interface', () => {
  const context = (fanIn = 3): tfv.priors.PriorContext => ({
    name: 'kernel', shape: [2], fanIn,
    addWeight: () => { throw new Error('this prior adds no weights'); },
  });

  it('binds a prior written to the element-wise contract: its Monte Carlo divergence averages over eps, then draw()', () => {
    class Laplace extends tfv.priors.Prior {
      static className = 'LaplacePriorForBindTest';
      constructor(_args = {}) { super(); }
      logProb(w: tf.Tensor) { return tf.sub(tf.neg(tf.abs(w)), Math.log(2)); }
      getConfig() { return {}; }
    }
    const bound = new Laplace().bind(context());
    expect(bound.hasAnalyticKL).toBe(false);
    const loc = tf.tensor1d([0.5, -1]);
    const scale = tf.tensor1d([0.2, 0.7]);
    const eps = tf.tensor1d([0.3, -1.2]);
    const lq = (s: number, e: number) => -0.5 * e * e - Math.log(s) - 0.5 * Math.log(2 * Math.PI);
    const lp = (w: number) => -Math.abs(w) - Math.log(2);
    const term = (e: number[]) => [0, 1].reduce((acc, i) => {
      const [m, s] = [[0.5, -1][i], [0.2, 0.7][i]];
      return acc + lq(s, e[i]) - lp(m + s * e[i]);
    }, 0);
    // One draw: exactly the given eps; draw() is not called.
    const one = bound.divergence(loc, scale, {eps, draw: () => { throw new Error('no draw expected'); }});
    expectClose(one.dataSync()[0], term([0.3, -1.2]), 1e-5, 1e-5);
    // Without eps, the first draw comes from draw().
    const drawn = bound.divergence(loc, scale, {eps: null, draw: () => tf.tensor1d([1, 0.5])});
    expectClose(drawn.dataSync()[0], term([1, 0.5]), 1e-5, 1e-5);
  });

  it('a prior with mcSamples = S averages S terms: eps first, then S − 1 draws', () => {
    class ThreeDraws extends tfv.priors.Prior {
      static className = 'ThreeDrawsPriorForBindTest';
      constructor(_args = {}) { super(); }
      logProb(w: tf.Tensor) { return tf.neg(tf.square(w)); }
      override get mcSamples() { return 3; }
      getConfig() { return {}; }
    }
    const draws = [tf.tensor1d([1, 2]), tf.tensor1d([-1, 0])];
    let calls = 0;
    const kl = new ThreeDraws().bind(context()).divergence(tf.zeros([2]), tf.ones([2]),
        {eps: tf.tensor1d([0.5, 0.5]), draw: () => draws[calls++]});
    expect(calls).toBe(2);
    // loc 0, scale 1: w = eps; term = Σ [−½e² − ½log 2π + e²].
    const term = (e: number[]) => e.reduce((a, x) => a + 0.5 * x * x - 0.5 * Math.log(2 * Math.PI), 0);
    expectClose(kl.dataSync()[0], (term([0.5, 0.5]) + term([1, 2]) + term([-1, 0])) / 3, 1e-5, 1e-5);
  });

  it('the unbound divergence(loc, scale, eps) goes through the same path as the bound one', () => {
    const prior = tfv.priors.scaleMixture();
    const args = [tf.tensor1d([0.1, -0.3]), tf.tensor1d([0.5, 0.02])] as const;
    const eps = tf.tensor1d([0.7, -0.4]);
    const unbound = prior.divergence(args[0], args[1], eps).dataSync()[0];
    const bound = prior.bind(context()).divergence(args[0], args[1], {eps, draw: () => tf.zeros([2])}).dataSync()[0];
    expect(bound).toBe(unbound);
  });

  it('rejects a malformed context, naming the field', () => {
    const prior = tfv.priors.gaussian();
    expect(() => prior.bind({...context(), fanIn: 0}))
        .toThrow('GaussianPrior.bind: expected context.fanIn to be a positive integer. Received: context.fanIn=0');
    expect(() => prior.bind({...context(), name: ''})).toThrow(/context.name/);
    expect(() => prior.bind({...context(), shape: [1.5]})).toThrow(/context.shape/);
  });

  it('registerPrior accepts the joint contract (logProbSum, a scalar) and checks it returns a scalar', () => {
    class JointStd extends tfv.priors.JointPrior {
      static className = 'JointStdPriorForTest';
      constructor(_args = {}) { super(); }
      logProbSum(w: tf.Tensor) { return tf.neg(tf.sum(tf.square(w))) as tf.Scalar; }
      getConfig() { return {}; }
    }
    tfv.priors.registerPrior('jointStdForTest', JointStd as unknown as PriorClass);
    const prior = tfv.priors.getPrior('jointStdForTest');
    expect(() => prior.logProb(tf.zeros([2]))).toThrow(/JointStdPriorForTest.logProb: this prior does not factorise/);
    expect(prior.bind(context()).hasAnalyticKL).toBe(false);

    class JointVector extends tfv.priors.JointPrior {
      static className = 'JointVectorPriorForTest';
      constructor(_args = {}) { super(); }
      logProbSum(w: tf.Tensor) { return tf.neg(tf.square(w)) as tf.Scalar; }
      getConfig() { return {}; }
    }
    expect(() => tfv.priors.registerPrior('jointVector', JointVector as unknown as PriorClass))
        .toThrow(/JointVectorPriorForTest.logProbSum\(w\) must return a scalar .* Received: shape \[2\]/);
  });
});

it('binds a prior of the old contract that overrides divergence(loc, scale, eps) through its override', () => {
  const seen: Array<number[]|null> = [];
  class OwnDivergence extends tfv.priors.Prior {
    static className = 'OwnDivergencePriorForTest';
    constructor(_args = {}) { super(); }
    logProb(w: tf.Tensor) { return tf.neg(tf.abs(w)); }
    override divergence(loc: tf.Tensor, _scale: tf.Tensor, eps: tf.Tensor|null): tf.Scalar {
      seen.push(eps === null ? null : Array.from(eps.dataSync()));
      return tf.sum(tf.square(loc));
    }
    getConfig() { return {}; }
  }
  const bound = new OwnDivergence().bind({name: 'kernel', shape: [2], fanIn: 1, addWeight: () => { throw new Error('none'); }});
  const before = tf.memory().numTensors;
  const loc = tf.tensor1d([1, 2]);
  const scale = tf.ones([2]);
  const kl = bound.divergence(loc, scale, {eps: null, draw: () => tf.tensor1d([0.5, -0.5])});
  expect(kl.dataSync()[0]).toBe(5);
  bound.divergence(loc, scale, {eps: tf.tensor1d([3, 4]), draw: () => { throw new Error('no draw expected'); }}).dispose();
  expect(seen).toEqual([[0.5, -0.5], [3, 4]]);
  tf.dispose([kl, loc, scale]);
  expect(tf.memory().numTensors).toBe(before + 1);  // the eps tensor the caller made and owns
});
