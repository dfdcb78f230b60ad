/**
 * Valkey authentication as deployed: the suite's Valkey runs with the ACL file that
 * k8s/base/valkey-acl.sh renders (the script the valkey pod's init container runs), so these tests
 * check the production users, and every other integration test logs in as `runner`.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config';
import { createRedis, redisAuth } from '../../lib/redis';
import { cli, cliJson } from '../support/cli';
import { unique } from '../support/env';
import type { ValkeyRole } from '../support/valkey-acl';
import { passwordEnv, randomPasswords, renderValkeyAcl } from '../support/valkey-acl';

const bareUrl = (): string => inject('valkeyBareUrl');
const passwords = (): Record<ValkeyRole, string> => inject('valkeyPasswords');

const opened: Redis[] = [];
afterAll(() => {
  for (const r of opened) r.disconnect();
});

/** A client logged in through the settings a process reads (BOTBURROW_REDIS_USERNAME/_PASSWORD). */
function asRole(role: ValkeyRole, password = passwords()[role]): Redis {
  const settings = loadSettings({
    BOTBURROW_REDIS_URL: bareUrl(),
    BOTBURROW_REDIS_USERNAME: role,
    BOTBURROW_REDIS_PASSWORD: password,
  });
  const redis = createRedis(settings.redisUrl, { name: `acl-${role}`, ...redisAuth(settings) });
  opened.push(redis);
  return redis;
}

function anonymous(): Redis {
  const redis = new Redis(bareUrl(), { maxRetriesPerRequest: 0, enableReadyCheck: false });
  redis.on('error', () => undefined);
  opened.push(redis);
  return redis;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the command was allowed');
}

describe('Valkey requires a login', () => {
  it('without one, only PING answers: no key can be read or written', async () => {
    const redis = anonymous();
    expect(await redis.ping()).toBe('PONG');
    expect(await refusal(redis.get('anything'))).toMatch(/NOPERM/);
    expect(await refusal(redis.set('anything', '1'))).toMatch(/NOPERM/);
    expect(await refusal(redis.eval("return redis.call('get', 'x')", 0))).toMatch(/NOPERM/);
    expect(await refusal(redis.call('info'))).toMatch(/NOPERM/);
  });

  it('a wrong password is refused', async () => {
    const redis = asRole('runner', 'not-the-runner-password-at-all');
    redis.on('error', () => undefined);
    expect(await refusal(redis.get('x'))).toMatch(/WRONGPASS|NOAUTH|Connection is closed|NOPERM/);
  });

  it.each(['coordinator', 'runner'] as const)(
    '%s runs data commands and scripts, but no dangerous or admin command',
    async (role) => {
      const redis = asRole(role);
      const key = unique(`acl-${role}`);
      await redis.set(key, 'v', 'PX', 60_000);
      expect(await redis.get(key)).toBe('v');
      expect(await redis.eval("return redis.call('incr', KEYS[1])", 1, `${key}:n`)).toBe(1);
      expect(await redis.hset(`${key}:h`, 'f', '1')).toBe(1);
      // SCAN to the end: one call looks at COUNT keys of the suite's shared keyspace only.
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${key}*`, 'COUNT', 1000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      expect(found.sort()).toEqual([key, `${key}:h`, `${key}:n`]);
      expect(await redis.call('info', 'server')).toMatch(/redis_version|valkey_version/);
      for (const command of [
        ['flushall'],
        ['flushdb'],
        ['keys', '*'],
        ['config', 'get', 'requirepass'],
        ['acl', 'list'],
        ['save'],
        ['monitor'],
        ['shutdown', 'nosave'],
        ['replicaof', 'no', 'one'],
      ] as const) {
        const [name, ...args] = command;
        expect(await refusal(redis.call(name, ...args)), name).toMatch(/NOPERM/);
      }
      expect(await refusal(redis.eval("return redis.call('flushall')", 0))).toMatch(
        /can't run this command|NOPERM/,
      );
      expect(await redis.del(key, `${key}:n`, `${key}:h`)).toBe(3);
    },
  );

  it('operator is the only user with admin commands', async () => {
    const redis = asRole('operator');
    expect(await redis.call('config', 'get', 'maxmemory-policy')).toEqual(
      expect.arrayContaining(['maxmemory-policy']),
    );
  });

  it('the CLI logs in from its settings; a refused login names the settings to fix', async () => {
    const prefix = `${unique('acl-cli')}:`;
    const operator = asRole('operator');
    await operator.set(`${prefix}cache:agent:someone`, '{}', 'PX', 60_000);
    const env = {
      BOTBURROW_REDIS_URL: bareUrl(),
      BOTBURROW_REDIS_USERNAME: 'coordinator',
      BOTBURROW_REDIS_PASSWORD: passwords().coordinator,
      BOTBURROW_KEY_PREFIX: prefix,
    };
    const ok = await cli(env, 'cache', 'invalidate', '--json');
    expect(ok.code, ok.stderr).toBe(0);
    expect(cliJson(ok)).toMatchObject({ dropped: 1 });
    expect(await operator.exists(`${prefix}cache:agent:someone`)).toBe(0);

    const refused = await cli(
      { ...env, BOTBURROW_REDIS_PASSWORD: 'wrong-password-for-coordinator' },
      'cache',
      'invalidate',
    );
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/Valkey refused the login as coordinator/);
    expect(refused.stderr).toMatch(/BOTBURROW_REDIS_USERNAME.*BOTBURROW_REDIS_PASSWORD/);
    expect(refused.stderr).not.toContain('wrong-password-for-coordinator');
  });
});

describe('valkey-acl.sh', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'bb-acl-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores only hashes of the passwords', async () => {
    const p = randomPasswords();
    const out = path.join(dir, 'users.acl');
    renderValkeyAcl(out, passwordEnv(p));
    const text = await readFile(out, 'utf8');
    for (const value of Object.values(p)) expect(text).not.toContain(value);
    expect(text.match(/^user (\S+)/gm)).toEqual([
      'user default',
      'user coordinator',
      'user runner',
      'user operator',
    ]);
  });

  it('fails closed, naming the variable, when a password is missing or short', () => {
    const p = passwordEnv(randomPasswords());
    const out = path.join(dir, 'bad.acl');
    expect(() => renderValkeyAcl(out, { ...p, VALKEY_RUNNER_PASSWORD: '' })).toThrow(
      /VALKEY_RUNNER_PASSWORD is empty or unset/,
    );
    expect(() => renderValkeyAcl(out, { ...p, VALKEY_OPERATOR_PASSWORD: 'short' })).toThrow(
      /VALKEY_OPERATOR_PASSWORD is shorter than 16/,
    );
  });
});
