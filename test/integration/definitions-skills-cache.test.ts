/**
 * The skill library's Valkey cache on a real Valkey and a real folder: a miss reads the store and
 * caches with the TTL, hits do not touch the store, `invalidate()` of every agent drops it, expiry
 * brings a new skill in, a corrupt entry is a miss, TTL 0 caches nothing, and Valkey being down
 * only costs the cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentRegistry, LocalDefinitionStore, SkillLibrary } from '../../lib/definitions';
import type { DefinitionStore } from '../../lib/definitions/store';
import { Keys } from '../../lib/keys';
import { redisClient, unique, unreachableRedis } from '../support/env';
import { FIXTURES, tempDir } from './definitions-support';

const logger = pino({ level: 'silent' });

let redis: Redis;
let folder: { dir: string; remove(): void };
let store: LocalDefinitionStore;

beforeAll(() => {
  redis = redisClient();
  folder = tempDir('skills-cache');
  fs.cpSync(path.join(FIXTURES, 'definitions/store'), folder.dir, { recursive: true });
  store = new LocalDefinitionStore(folder.dir);
});
afterAll(() => {
  redis.disconnect();
  folder.remove();
});

/** The folder store, counting how often the skills are listed (one listing per store read). */
function counting(): { store: DefinitionStore; listings: () => number } {
  let listings = 0;
  return {
    store: {
      describe: () => store.describe(),
      list: (p: string) => {
        listings += 1;
        return store.list(p);
      },
      readText: (k: string) => store.readText(k),
      writeText: (k: string, b: string) => store.writeText(k, b),
    },
    listings: () => listings,
  };
}

function addSkill(name: string): void {
  const dir = path.join(folder.dir, 'skills', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'SKILL.md'),
    `---\nname: ${name}\ndescription: Added later.\n---\nDo it.\n`,
  );
}

const names = (skills: { name: string }[]): string[] => skills.map((s) => s.name);

describe('SkillLibrary cache', () => {
  let keys: Keys;
  beforeEach(() => {
    keys = new Keys(`${unique('skills')}:`);
  });

  it('reads the store on a miss, caches with the TTL, and serves hits without listing it', async () => {
    const c = counting();
    const library = new SkillLibrary({ store: c.store, logger, cache: { redis, keys, ttlSeconds: 60 } });
    const first = await library.all();
    expect(c.listings()).toBe(1);
    expect(names(first)).toEqual(expect.arrayContaining(['github-issues', 'haiku-writing', 'hub-post']));
    expect(names(first)).not.toContain('bad-skill');
    const ttl = await redis.ttl(keys.skillsCache());
    expect(ttl).toBeGreaterThan(55);
    expect(ttl).toBeLessThanOrEqual(60);

    // Another runner's library shares the entry.
    const other = new SkillLibrary({ store: c.store, logger, cache: { redis, keys, ttlSeconds: 60 } });
    expect(await other.all()).toEqual(first);
    expect(await library.all()).toEqual(first);
    expect(c.listings()).toBe(1);
  });

  it('sees a new skill after `invalidate()` of every agent, not before', async () => {
    const c = counting();
    const library = new SkillLibrary({ store: c.store, logger, cache: { redis, keys, ttlSeconds: 60 } });
    const name = unique('fresh')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    await library.all();
    addSkill(name);
    expect(names(await library.all())).not.toContain(name);
    const registry = new AgentRegistry({ store, redis, keys, logger });
    expect(await registry.invalidate()).toBe(1);
    expect(await redis.exists(keys.skillsCache())).toBe(0);
    expect(names(await library.all())).toContain(name);
    expect(c.listings()).toBe(2);
  });

  it('sees a new skill once the entry expires', async () => {
    const library = new SkillLibrary({ store, logger, cache: { redis, keys, ttlSeconds: 1 } });
    const name = unique('later')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    await library.all();
    addSkill(name);
    expect(names(await library.all())).not.toContain(name);
    await new Promise((r) => setTimeout(r, 1200));
    expect(names(await library.all())).toContain(name);
  });

  it('treats a corrupt or older-format entry as a miss and replaces it', async () => {
    const c = counting();
    const library = new SkillLibrary({ store: c.store, logger, cache: { redis, keys, ttlSeconds: 60 } });
    await redis.set(keys.skillsCache(), '{not json');
    expect(names(await library.all())).toContain('haiku-writing');
    await redis.set(keys.skillsCache(), JSON.stringify({ v: 0, skills: [] }));
    expect(names(await library.all())).toContain('haiku-writing');
    expect(c.listings()).toBe(2);
    expect(JSON.parse((await redis.get(keys.skillsCache()))!)).toMatchObject({ v: 1 });
  });

  it('caches nothing with TTL 0', async () => {
    const c = counting();
    const library = new SkillLibrary({ store: c.store, logger, cache: { redis, keys, ttlSeconds: 0 } });
    await library.all();
    await library.all();
    expect(c.listings()).toBe(2);
    expect(await redis.exists(keys.skillsCache())).toBe(0);
  });

  it('still reads the skills from the store when Valkey is down', async () => {
    const down = await unreachableRedis();
    try {
      const library = new SkillLibrary({ store, logger, cache: { redis: down, keys, ttlSeconds: 60 } });
      expect(names(await library.all())).toContain('haiku-writing');
    } finally {
      down.disconnect();
    }
  });
});
