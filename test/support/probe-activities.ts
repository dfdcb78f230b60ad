import type { Redis } from 'ioredis';

/** Activities of the probe workflow, built from their dependency as STYLE.md asks. */
export function createProbeActivities(redis: Redis) {
  return {
    async incrementCounter(key: string): Promise<number> {
      return redis.incr(key);
    },
    async readCounter(key: string): Promise<number> {
      return Number((await redis.get(key)) ?? 0);
    },
  };
}
export type ProbeActivities = ReturnType<typeof createProbeActivities>;
