import { describe, expect, it } from 'vitest';
import { parseSeed } from '../../dev/hub-sim/seed';
import { HubWorld, SimError } from '../../dev/hub-sim/world';

function world(now: { t: number }, extra: Record<string, unknown> = {}): HubWorld {
  return new HubWorld(
    parseSeed({
      limits: { daily_tokens: 100, monthly_cost_usd: 1 },
      agents: [{ id: 'a' }, { id: 'b', limits: { daily_tokens: 0 } }],
      ...extra,
    }),
    { now: () => now.t },
  );
}

describe('simulated Hub world (pure rules)', () => {
  it('budget-health counts tokens per UTC day and cost per UTC month', () => {
    const now = { t: Date.parse('2026-03-31T23:00:00Z') };
    const w = world(now);
    w.recordConsumption({ agent_id: 'a', tokens_input: 60, tokens_output: 20, cost_usd: 0.4 });
    expect(w.budgetHealth('a')).toEqual({
      daily_limit: 100,
      daily_used: 80,
      monthly_limit: 1,
      monthly_used: 0.4,
      healthy: true,
    });
    w.recordConsumption({ agent_id: 'a', tokens_input: 20, tokens_output: 0, cost_usd: 0.1 });
    expect(w.budgetHealth('a').healthy).toBe(false);
    // Two hours later it is another day and another month: both counters restart.
    now.t = Date.parse('2026-04-01T01:00:00Z');
    expect(w.budgetHealth('a')).toMatchObject({ daily_used: 0, monthly_used: 0, healthy: true });
    w.recordConsumption({ agent_id: 'a', tokens_input: 1, tokens_output: 1, cost_usd: 0.6 });
    now.t = Date.parse('2026-04-02T01:00:00Z');
    expect(w.budgetHealth('a')).toMatchObject({ daily_used: 0, monthly_used: 0.6, healthy: true });
    w.recordConsumption({ agent_id: 'a', tokens_input: 0, tokens_output: 0, cost_usd: 0.4 });
    expect(w.budgetHealth('a')).toMatchObject({ monthly_used: 1, healthy: false });
  });

  it('a zero limit means no limit', () => {
    const w = world({ t: Date.parse('2026-01-01T00:00:00Z') });
    w.recordConsumption({ agent_id: 'b', tokens_input: 1e9, tokens_output: 0, cost_usd: 0.5 });
    expect(w.budgetHealth('b')).toMatchObject({ daily_limit: 0, healthy: true });
  });

  it('staleness orders never-activated first, then oldest, honouring min_staleness', () => {
    const now = { t: Date.parse('2026-01-01T00:00:00Z') };
    const w = world(now, { agents: [{ id: 'x' }, { id: 'y' }, { id: 'z' }] });
    w.markActivated('y');
    now.t += 10_000;
    w.markActivated('z');
    now.t += 10_000;
    expect(w.staleAgents(5).map((a) => a.id)).toEqual(['x', 'y', 'z']);
    expect(w.staleAgents(15).map((a) => a.id)).toEqual(['x', 'y']);
    expect(w.staleAgents(15)[1]?.last_activated_at).toBe('2026-01-01T00:00:00.000Z');
    expect(() => w.markActivated('nobody')).toThrow(SimError);
  });

  it('fires unread listeners only for unread notifications', () => {
    const w = world({ t: 0 });
    const seen: string[] = [];
    const off = w.onUnread((id) => seen.push(id));
    const base = {
      type: 'dm',
      post_id: null,
      from_agent: { id: 'b', name: 'b' },
      content: '',
      created_at: 0,
    };
    w.insertNotification({ ...base, agent_id: 'a', read: false });
    w.insertNotification({ ...base, agent_id: 'b', read: true });
    off();
    w.insertNotification({ ...base, agent_id: 'b', read: false });
    expect(seen).toEqual(['a']);
    expect(w.agentsWithUnread()).toEqual([
      { id: 'a', name: 'a', notification_count: 1 },
      { id: 'b', name: 'b', notification_count: 1 },
    ]);
  });

  it('registration reports registered, unchanged and updated', () => {
    const w = world({ t: 0 });
    const a = { name: 'new', config_hash: 'h1' };
    expect(w.register(a, false)).toBe('registered');
    expect(w.register(a, false)).toBe('unchanged');
    expect(w.register({ ...a, config_hash: 'h2' }, false)).toBe('updated');
    expect(w.register({ ...a, config_hash: 'h2' }, true)).toBe('updated');
    expect(w.agents.get('new')?.limits).toEqual({ daily_tokens: 100, monthly_cost_usd: 1 });
  });
});
