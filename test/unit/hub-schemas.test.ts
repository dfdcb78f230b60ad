import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PayloadError } from '../../lib/errors';
import {
  budgetHealthSchema,
  formatPath,
  notificationsResponse,
  parsePayload,
  postSchema,
  registrationResponse,
  staleAgentsResponse,
} from '../../lib/hub/schemas';
import { loadSeedFile, parseSeed } from '../../dev/hub-sim/seed';

const notification = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: 'n1',
  type: 'mention',
  post_id: 'p1',
  from_agent: { id: 'alice', name: 'Alice' },
  content: 'hi',
  created_at: '2026-01-01T00:00:00Z',
  read: false,
  ...over,
});

function payloadError(fn: () => unknown): PayloadError {
  try {
    fn();
  } catch (err) {
    if (err instanceof PayloadError) return err;
    throw err;
  }
  throw new Error('expected a PayloadError');
}

describe('Hub response schemas', () => {
  it('names endpoint, field path and rule of the first problem', () => {
    const data = {
      notifications: [notification(), notification(), notification({ from_agent: { id: 7, name: 'x' } })],
    };
    const err = payloadError(() => parsePayload('GET /api/v1/notifications', notificationsResponse, data));
    expect(err.source).toBe('GET /api/v1/notifications');
    expect(err.field).toBe('notifications[2].from_agent.id');
    expect(err.rule).toBe('expected string, got number');
    expect(err.message).toBe(
      'GET /api/v1/notifications: notifications[2].from_agent.id: expected string, got number',
    );
  });

  it('reports a missing field and counts further problems', () => {
    const data = { notifications: [notification({ id: undefined, created_at: 5 })] };
    const err = payloadError(() => parsePayload('GET /api/v1/notifications', notificationsResponse, data));
    expect(err.field).toBe('notifications[0].id');
    expect(err.rule).toBe('expected string, got nothing (and 1 more problem)');
  });

  it('names the body itself when the top level is wrong', () => {
    const err = payloadError(() => parsePayload('GET /api/v1/notifications', notificationsResponse, []));
    expect(err.field).toBe('');
    expect(err.message).toContain('(body): expected object, got array');
  });

  it('keeps unknown notification types and drops unknown fields', () => {
    const out = parsePayload('x', notificationsResponse, {
      notifications: [notification({ type: 'poke', shiny: true })],
      next_cursor: 'abc',
    });
    expect(out.notifications[0]?.type).toBe('poke');
    expect(out.notifications[0]).not.toHaveProperty('shiny');
    expect(out).not.toHaveProperty('next_cursor');
  });

  it('normalises optional nullable fields to null', () => {
    const post = parsePayload('GET /api/v1/posts/{id}', postSchema, {
      id: 'p1',
      author: { id: 'a', name: 'A' },
      content: 'text',
      created_at: '2026-01-01T00:00:00Z',
    });
    expect(post.title).toBeNull();
    expect(post.community).toBeNull();
    expect(post.parent_id).toBeNull();
    expect(post.updated_at).toBeNull();
    expect(post.comments).toBeUndefined();
    const stale = parsePayload('GET /api/v1/agents', staleAgentsResponse, {
      agents: [{ id: 'a', name: 'A' }],
    });
    expect(stale.agents[0]?.last_activated_at).toBeNull();
  });

  it('applies budget-health defaults (0, healthy true) and rejects wrong types', () => {
    expect(parsePayload('b', budgetHealthSchema, { daily_used: 5, monthly_limit: null })).toEqual({
      daily_limit: 0,
      daily_used: 5,
      monthly_limit: 0,
      monthly_used: 0,
      healthy: true,
    });
    const err = payloadError(() => parsePayload('b', budgetHealthSchema, { healthy: 'yes' }));
    expect(err.field).toBe('healthy');
  });

  it('keeps a registration error only when present', () => {
    const out = parsePayload('r', registrationResponse, {
      results: [
        { name: 'a', status: 'registered', error: null },
        { name: 'b', status: 'unchanged', error: 'bad name' },
      ],
    });
    expect(out.results).toEqual([
      { name: 'a', status: 'registered' },
      { name: 'b', status: 'unchanged', error: 'bad name' },
    ]);
  });

  it('formats zod paths', () => {
    expect(formatPath(['a', 0, 'b', 12])).toBe('a[0].b[12]');
    expect(formatPath([3, 'x'])).toBe('[3].x');
    expect(formatPath([])).toBe('');
  });
});

describe('Hub simulator seed', () => {
  it('loads the demo world with the four demo personas', () => {
    const seed = loadSeedFile(path.resolve(__dirname, '../../dev/demo/world.yaml'));
    expect(seed.agents.map((a) => a.id).sort()).toEqual([
      'critic-agent',
      'devops-agent',
      'poet-agent',
      'research-agent',
    ]);
    expect(seed.posts.length).toBeGreaterThan(2);
    expect(seed.notifications.every((n) => seed.agents.some((a) => a.id === n.agent))).toBe(true);
  });

  it('rejects a bad seed naming the field', () => {
    expect(() => parseSeed({ agents: [{ id: 'Bad Id' }] }, 'world.yaml')).toThrow(
      /^world\.yaml: agents\[0\]\.id: agent ids/,
    );
    expect(() => parseSeed({ agent: [] }, 'w.yaml')).toThrow('w.yaml: (root): Unrecognized key: "agent"');
    expect(() => parseSeed({ posts: [{ author: 'a', content: 'x', created_at: 'yesterday' }] }, 's')).toThrow(
      's: posts[0].created_at: expected an ISO-8601 timestamp',
    );
  });
});
