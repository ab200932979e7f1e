/** Gradient checks against float64 references. */

/**
 * The central difference `(f(x + h) − f(x − h)) / 2h` of a float64 reference
 * `value` along one parameter, read and written through `get`/`set` (left as
 * it was).
 */
export function centralDifference(value: () => number, get: () => number, set: (x: number) => void, h = 1e-6): number {
  const x = get();
  set(x + h);
  const up = value();
  set(x - h);
  const down = value();
  set(x);
  return (up - down) / (2 * h);
}
