/**
 * Operator pause flags (`agent:paused:<agent>`, value JSON `{reason, at}`). A paused agent gets no
 * new activations and running ones stop at their next iteration. Each operation is one Valkey
 * command, so there is nothing to make atomic.
 */
import type { Redis } from 'ioredis';
import type { Keys } from '../keys';
import { guarded } from './script';

export interface PauseState {
  paused: boolean;
  reason?: string;
  /** ISO time the pause was set (absent for a flag set by hand without JSON). */
  at?: string;
}

/** Reads and writes per-agent pause flags. */
export class PauseFlags {
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    o: { now?: () => number } = {},
  ) {
    this.now = o.now ?? Date.now;
  }

  /** Pauses `agentId` until `resume` (no expiry: a pause is an operator decision). */
  async pause(agentId: string, reason = 'paused by operator'): Promise<void> {
    if (!agentId) throw new Error('pause: agentId is empty');
    const value = JSON.stringify({ reason, at: new Date(this.now()).toISOString() });
    await guarded(this.redis, 'pause', () => this.redis.set(this.keys.paused(agentId), value));
  }

  /** Clears the flag; resuming an agent that is not paused is a no-op. */
  async resume(agentId: string): Promise<void> {
    await guarded(this.redis, 'resume', () => this.redis.del(this.keys.paused(agentId)));
  }

  /** Whether `agentId` is paused, with the reason given. */
  async isPaused(agentId: string): Promise<PauseState> {
    const raw = await guarded(this.redis, 'pause check', () => this.redis.get(this.keys.paused(agentId)));
    return raw === null ? { paused: false } : parsePauseValue(raw);
  }
}

/** Decodes a flag value; one set by hand (`SET agent:paused:x yes`) still counts as paused. */
export function parsePauseValue(raw: string): PauseState {
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const { reason, at } = v as { reason?: unknown; at?: unknown };
      const out: PauseState = { paused: true, reason: typeof reason === 'string' ? reason : 'paused' };
      if (typeof at === 'string') out.at = at;
      return out;
    }
    // `SET agent:paused:x 1` or `true`: a bare flag without a reason.
    return { paused: true, reason: typeof v === 'string' && v ? v : 'paused' };
  } catch {
    // not JSON: fall through
  }
  return { paused: true, reason: raw || 'paused' };
}
