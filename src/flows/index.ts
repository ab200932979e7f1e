/**
 * Normalizing flows (planar, radial, …) and the chain that sums their
 * log-det-Jacobians. Nothing is exported yet.
 */
export {};
