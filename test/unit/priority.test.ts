import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config';
import { TRIGGER_PRIORITY, activationPriority } from '../../lib/priority';

describe('activationPriority', () => {
  it('puts notifications before explorations and keys fairness by agent', () => {
    const n = activationPriority('research-agent', 'notification');
    const e = activationPriority('research-agent', 'exploration');
    expect(n).toEqual({ priorityKey: TRIGGER_PRIORITY.notification, fairnessKey: 'research-agent' });
    expect(n.priorityKey!).toBeLessThan(e.priorityKey!);
    expect(activationPriority('x', 'manual').priorityKey!).toBeLessThan(n.priorityKey!);
  });

  it('applies the per-agent override of BOTBURROW_AGENT_PRIORITY', () => {
    const s = loadSettings({
      BOTBURROW_AGENT_PRIORITY: '{"a":{"priority_key":1,"fairness_key":"team","fairness_weight":2.5}}',
    });
    expect(activationPriority('a', 'exploration', s.agentPriority)).toEqual({
      priorityKey: 1,
      fairnessKey: 'team',
      fairnessWeight: 2.5,
    });
    expect(activationPriority('b', 'exploration', s.agentPriority)).toEqual({
      priorityKey: TRIGGER_PRIORITY.exploration,
      fairnessKey: 'b',
    });
  });

  it('cuts a fairness key to the 64 bytes Temporal allows', () => {
    const key = activationPriority('é'.repeat(40), 'notification').fairnessKey!;
    expect(Buffer.byteLength(key)).toBeLessThanOrEqual(64);
    expect(key).toBe('é'.repeat(32));
  });

  it('refuses a malformed override with the variable and the expected form', () => {
    for (const bad of ['{"a":{"priority_key":9}}', '{"a":{"fairness_weight":0}}', '{"a":{"weight":1}}']) {
      expect(() => loadSettings({ BOTBURROW_AGENT_PRIORITY: bad })).toThrow(
        /BOTBURROW_AGENT_PRIORITY: expected JSON like/,
      );
    }
  });
});
