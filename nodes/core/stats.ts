/** The median of `values` (the mean of the two middle ones for an even count); 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The nearest-rank q-quantile of `values` (q in [0, 1]); 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/**
 * One-sample Kolmogorov–Smirnov test of `values` (each in [0, 1)) against the uniform distribution: the statistic
 * D = sup |F_n(x) − x| and its asymptotic p-value (Kolmogorov's series, with Stephens' small-sample correction).
 */
export function ksUniform(values: readonly number[]): { d: number; p: number } {
  const n = values.length;
  if (n === 0) return { d: 0, p: 1 };
  const s = [...values].sort((a, b) => a - b);
  let d = 0;
  s.forEach((x, i) => { d = Math.max(d, (i + 1) / n - x, x - i / n); });
  const t = (Math.sqrt(n) + 0.12 + 0.11 / Math.sqrt(n)) * d;
  let p = 0;
  for (let k = 1; k <= 100; k++) p += 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * t * t);
  return { d, p: Math.min(1, Math.max(0, t < 0.3 ? 1 : p)) };
}
