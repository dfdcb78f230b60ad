import { describe, expect, it } from 'vitest';
import { addUsd, roundUsd } from '../../lib/usd';

describe('USD amounts', () => {
  it('rounds to micro-dollars, the unit budgets are kept in', () => {
    expect(roundUsd(0.011685000000000001)).toBe(0.011685);
    expect(roundUsd(0.0000004)).toBe(0);
    expect(roundUsd(0.0000005)).toBe(0.000001);
    expect(roundUsd(12.3456789)).toBe(12.345679);
  });

  it('sums without float noise however many terms', () => {
    let naive = 0;
    let sum = 0;
    for (let i = 0; i < 10; i++) {
      naive += 0.1;
      sum = addUsd(sum, 0.1);
    }
    expect(naive).not.toBe(1);
    expect(sum).toBe(1);
    expect(addUsd(0.003525, 0.00816)).toBe(0.011685);
  });
});
