/**
 * The standard normal quantile and the manifold grid of the Keras VAE
 * write-up, shared by the MNIST VAE example's pictures (Node) and its
 * browser page (whose server sends the grid with the data). No imports.
 */

/**
 * Φ⁻¹(p), the standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9;
 * scipy's norm.ppf to the digits printed here).
 */
export function normalQuantile(p) {
  if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must lie in (0, 1). Received: p=${p}`);
  const a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
    -3.066479806614716e+01, 2.506628277459239e+00];
  const b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
    -1.328068155288572e+01];
  const c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
    4.374664141464968e+00, 2.938163982698783e+00];
  const d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
  const lower = 0.02425;
  if (p < lower || p > 1 - lower) {
    const q = Math.sqrt(-2 * Math.log(p < lower ? p : 1 - p));
    const v = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    return p < lower ? v : -v;
  }
  const q = p - 0.5;
  const r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** The Keras write-up's grid values: Φ⁻¹ at `size` evenly spaced probabilities from 0.05 to 0.95. */
export function gridQuantiles(size = 15) {
  return Array.from({length: size}, (_, i) => normalQuantile(0.05 + (0.9 * i) / (size - 1)));
}
