/**
 * US dollar amounts as the system reports them: rounded to micro-dollars (6 decimals, the unit
 * budgets are kept in), so sums of per-call costs carry no float noise (0.011685000000000001).
 * Pure: safe in workflow code.
 */

/** `usd` rounded to 6 decimals. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/** `a + b`, rounded to 6 decimals. */
export function addUsd(a: number, b: number): number {
  return roundUsd(a + b);
}
