/**
 * The Valkey-cached registry on a real Valkey and a real folder: miss → load and cache with the
 * agent's TTL, hit → no store read, invalidation (one, all via SCAN), a changed persona picked up
 * after invalidation or expiry, Valkey down → the store still answers, and the authenticated
 * `POST /api/v1/cache/invalidate` route on a real ops server.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry, LocalDefinitionStore, cacheInvalidateRoute } from '../../lib/definitions';
import { startOpsServer } from '../../lib/http-server';
import type { OpsServer } from '../../lib/http-server';
import { Keys } from '../../lib/keys';
import { redisClient, unique, unreachableRedis } from '../support/env';
import { FIXTURES, tempDir } from './definitions-support';

const logger = pino({ level: 'silent' });

let redis: Redis;
let folder: { dir: string; remove(): void };
let store: LocalDefinitionStore;

beforeAll(() => {
  redis = redisClient();
  folder = tempDir('registry');
  fs.cpSync(path.join(FIXTURES, 'definitions/store'), folder.dir, { recursive: true });
  store = new LocalDefinitionStore(folder.dir);
});
afterAll(() => {
  redis.disconnect();
  folder.remove();
});

function registryWith(keys: Keys): AgentRegistry {
  return new AgentRegistry({ store, redis, keys, logger });
}

/** A store wrapper that counts reads, to tell cache hits from misses. */
function countingRegistry(keys: Keys): { registry: AgentRegistry; reads: () => number } {
  let reads = 0;
  const counting = {
    describe: () => store.describe(),
    list: (p: string) => store.list(p),
    readText: (k: string) => {
      reads += 1;
      return store.readText(k);
    },
    writeText: (k: string, b: string) => store.writeText(k, b),
  };
  return { registry: new AgentRegistry({ store: counting, redis, keys, logger }), reads: () => reads };
}

const promptFile = (id: string): string => path.join(folder.dir, 'agents', id, 'system-prompt.md');

describe('AgentRegistry cache', () => {
  let keys: Keys;
  beforeEach(() => {
    keys = new Keys(`${unique('reg')}:`);
  });

  it('caches on a miss with TTL = cache_ttl, and serves hits without reading the store', async () => {
    const { registry, reads } = countingRegistry(keys);
    const first = await registry.get('full-agent');
    expect(reads()).toBe(2); // config.yaml + system-prompt.md
    const ttl = await redis.ttl(keys.agentCache('full-agent'));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600); // full-agent sets cache_ttl: 600
    expect(await redis.ttl(keys.agentCache('minimal-agent'))).toBe(-2);
    await registry.get('minimal-agent');
    expect(await redis.ttl(keys.agentCache('minimal-agent'))).toBeGreaterThan(290); // default 300

    const again = await registry.get('full-agent');
    expect(reads()).toBe(4); // only minimal-agent's two files
    expect(again).toEqual(first);
  });

  it('picks up a changed persona after invalidating that agent, not before', async () => {
    const registry = registryWith(keys);
    const original = fs.readFileSync(promptFile('minimal-agent'), 'utf8');
    try {
      expect((await registry.get('minimal-agent')).systemPrompt).toBe(original);
      fs.writeFileSync(promptFile('minimal-agent'), 'You are the NEW Minimal Agent.\n');
      expect((await registry.get('minimal-agent')).systemPrompt).toBe(original); // cached
      // A second registry (another process) shares the cache: no in-process copy to go stale.
      expect((await registryWith(keys).get('minimal-agent')).systemPrompt).toBe(original);
      expect(await registry.invalidate('minimal-agent')).toBe(1);
      expect(await registry.invalidate('minimal-agent')).toBe(0);
      const fresh = await registryWith(keys).get('minimal-agent');
      expect(fresh.systemPrompt).toBe('You are the NEW Minimal Agent.\n');
      expect((await registry.get('minimal-agent')).configHash).toBe(fresh.configHash);
    } finally {
      fs.writeFileSync(promptFile('minimal-agent'), original);
    }
  });

  it('picks up a changed persona once the cache entry expires', async () => {
    const registry = registryWith(keys);
    const original = fs.readFileSync(promptFile('legacy-agent'), 'utf8');
    try {
      await registry.get('legacy-agent');
      fs.writeFileSync(promptFile('legacy-agent'), 'Changed.\n');
      expect((await registry.get('legacy-agent')).systemPrompt).toBe(original);
      // Let the TTL run out now rather than in 300 s.
      await redis.pexpire(keys.agentCache('legacy-agent'), 1);
      await new Promise((r) => setTimeout(r, 20));
      expect((await registry.get('legacy-agent')).systemPrompt).toBe('Changed.\n');
    } finally {
      fs.writeFileSync(promptFile('legacy-agent'), original);
    }
  });

  it('invalidates every agent with SCAN across many keys, and only under its own prefix', async () => {
    const registry = registryWith(keys);
    const other = new Keys(`${unique('reg-other')}:`);
    await registry.get('full-agent');
    await registry.get('minimal-agent');
    await registryWith(other).get('full-agent');
    // Many more entries than one SCAN page.
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1200; i++) pipeline.set(keys.agentCache(`bulk-${i}`), '{}', 'EX', 60);
    await pipeline.exec();
    expect(await registry.invalidate()).toBe(1202);
    expect(await redis.exists(keys.agentCache('full-agent'))).toBe(0);
    expect(await redis.exists(other.agentCache('full-agent'))).toBe(1);
    expect(await registry.invalidate()).toBe(0);
  });

  it('does not cache an invalid definition, so a fix is seen at once', async () => {
    const registry = registryWith(keys);
    const dir = path.join(folder.dir, 'agents', 'fixable-agent');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(
      path.join(dir, 'config.yaml'),
      'name: fixable-agent\ntype: native\nbrain: {model: m, temperature: 9}\ncapabilities: {}\n',
    );
    await expect(registry.get('fixable-agent')).rejects.toThrow(
      'agents/fixable-agent/config.yaml: brain.temperature: must be ≤ 2',
    );
    expect(await redis.exists(keys.agentCache('fixable-agent'))).toBe(0);
    fs.writeFileSync(
      path.join(dir, 'config.yaml'),
      'name: fixable-agent\ntype: native\nbrain: {model: m, temperature: 1}\ncapabilities: {}\n',
    );
    expect((await registry.get('fixable-agent')).config.brain.temperature).toBe(1);
    expect(await registry.listIds()).toContain('fixable-agent');
  });

  it('treats a corrupt or older-format cache entry as a miss', async () => {
    const registry = registryWith(keys);
    await redis.set(keys.agentCache('minimal-agent'), 'not json', 'EX', 60);
    expect((await registry.get('minimal-agent')).id).toBe('minimal-agent');
    await redis.set(keys.agentCache('goose-agent'), JSON.stringify({ v: 0, def: { id: 'stale' } }), 'EX', 60);
    expect((await registry.get('goose-agent')).id).toBe('goose-agent');
    expect(JSON.parse((await redis.get(keys.agentCache('goose-agent')))!).v).toBe(1);
  });

  it('still serves definitions from the store when Valkey is down', async () => {
    const down = await unreachableRedis();
    try {
      const registry = new AgentRegistry({ store, redis: down, keys, logger });
      const def = await registry.get('minimal-agent');
      expect(def.config.name).toBe('minimal-agent');
      await expect(registry.invalidate('minimal-agent')).rejects.toThrow();
    } finally {
      down.disconnect();
    }
  });
});

describe('POST /api/v1/cache/invalidate', () => {
  const TOKEN = 'test-admin-token-123';
  let keys: Keys;
  let registry: AgentRegistry;
  let ops: OpsServer;
  let opsNoToken: OpsServer;

  beforeAll(async () => {
    keys = new Keys(`${unique('route')}:`);
    registry = registryWith(keys);
    ops = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      logger,
      routes: cacheInvalidateRoute({ registry, token: TOKEN }),
    });
    opsNoToken = await startOpsServer({
      port: 0,
      host: '127.0.0.1',
      registry: new Registry(),
      logger,
      routes: cacheInvalidateRoute({ registry }),
    });
  });
  afterAll(async () => {
    await ops.close();
    await opsNoToken.close();
  });

  const call = async (
    server: OpsServer,
    query: string,
    init: RequestInit = {},
  ): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`http://127.0.0.1:${server.port}/api/v1/cache/invalidate${query}`, {
      method: 'POST',
      ...init,
    });
    return { status: res.status, body: await res.json() };
  };

  it('answers 401 without a token or with a wrong one, and deletes nothing', async () => {
    await registry.get('minimal-agent');
    expect((await call(ops, '')).status).toBe(401);
    expect((await call(ops, '', { headers: { authorization: 'Bearer wrong-token' } })).status).toBe(401);
    expect((await call(ops, '', { headers: { authorization: TOKEN } })).status).toBe(401);
    expect(await redis.exists(keys.agentCache('minimal-agent'))).toBe(1);
  });

  it('invalidates one agent or all with the right token', async () => {
    const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
    await registry.get('minimal-agent');
    await registry.get('full-agent');
    expect(await call(ops, '?agent=minimal-agent', auth)).toEqual({ status: 200, body: { invalidated: 1 } });
    expect(await redis.exists(keys.agentCache('minimal-agent'))).toBe(0);
    expect(await redis.exists(keys.agentCache('full-agent'))).toBe(1);
    await registry.get('minimal-agent');
    expect(await call(ops, '', auth)).toEqual({ status: 200, body: { invalidated: 2 } });
    expect(await call(ops, '?agent=../../x', auth)).toMatchObject({ status: 400 });
  });

  it('is off (503) without a configured token, and POST-only', async () => {
    const res = await call(opsNoToken, '', { headers: { authorization: 'Bearer anything' } });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'admin endpoints are disabled: BOTBURROW_ADMIN_TOKEN is not set' });
    const get = await fetch(`http://127.0.0.1:${ops.port}/api/v1/cache/invalidate`);
    expect(get.status).toBe(405);
    const other = await fetch(`http://127.0.0.1:${ops.port}/api/v1/other`, { method: 'POST' });
    expect(other.status).toBe(404);
  });
});
