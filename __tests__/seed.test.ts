/** Seed derivation: deterministic, spread, and never 0 (tfjs treats a seed of 0 as unseeded). */
import * as tf from '@tensorflow/tfjs-core';

import {deriveSeed, SeedStream} from '../src/util/seed';
import {useBackend} from './helpers/backends';

it('never returns 0, the value tfjs reads as "no seed"', () => {
  // The hash is fmix32(h0 ^ (counter + 1)·0xc2b2ae35) with h0 from the seed, and fmix32(0) = 0: so the
  // counter whose product cancels h0 would give 0. Compute it (0xc2b2ae35 is odd, so invertible mod 2^32).
  const M = BigInt(2 ** 32);
  const C = BigInt(0xc2b2ae35);
  const [zero, one, two] = [BigInt(0), BigInt(1), BigInt(2)];
  const inverse = (a: bigint): bigint => {  // a^(2^31 - 1) is a's inverse in the group of odd residues mod 2^32
    let r = one;
    for (let e = BigInt(2 ** 31 - 1), b = a; e > zero; e /= two, b = b * b % M) if (e % two === one) r = r * b % M;
    return r;
  };
  expect(C * inverse(C) % M).toBe(one);
  for (const seed of [0, 7, 123456789]) {
    const h0 = BigInt((Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul((seed / 4294967296) | 0, 0x85ebca6b)) >>> 0);
    const counter = Number(((h0 * inverse(C) % M) - one + M) % M);
    expect(deriveSeed(seed, counter)).not.toBe(0);
    expect(deriveSeed(seed, counter)).toBe(0x9e3779b9);
  }
});

it('a seeded stream repeats exactly after reset, and consecutive draws differ', async () => {
  await useBackend('cpu');
  const s = new SeedStream(42);
  const a = [s.next(), s.next()];
  s.reset();
  expect([s.next(), s.next()]).toEqual(a);
  expect(a[0]).not.toBe(a[1]);
  const x = tf.randomNormal([4], 0, 1, 'float32', a[0]);
  const y = tf.randomNormal([4], 0, 1, 'float32', a[0]);
  expect(Array.from(x.dataSync())).toEqual(Array.from(y.dataSync()));
  tf.dispose([x, y]);
  expect(new SeedStream(undefined).next()).toBeUndefined();
});
