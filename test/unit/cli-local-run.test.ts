/**
 * The local run's settings file as the CLI reads it: used only when the environment names no
 * Temporal, Valkey or definitions of its own, and then under whatever else the environment says.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  LOCAL_RUN_VARIABLES,
  localDataDir,
  localRunHint,
  parseEnvFile,
  withLocalRunSettings,
  writeLocalRunFile,
} from '../../cli/local-run';

const VARS = {
  TEMPORAL_ADDRESS: '127.0.0.1:17233',
  TEMPORAL_NAMESPACE: 'default',
  BOTBURROW_REDIS_URL: 'redis://:s3cret@127.0.0.1:16379',
  BOTBURROW_DEFINITIONS_STORE: 'local',
  BOTBURROW_AGENT_DEFINITIONS_PATH: '/repo/dev/demo/definitions',
};

describe('the local run settings file', () => {
  it('round-trips through the file, readable by its owner only', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bb-lr-'));
    const file = writeLocalRunFile(dir, VARS);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(parseEnvFile(fs.readFileSync(file, 'utf8'))).toEqual(VARS);
    const { env, file: used } = withLocalRunSettings({ PATH: '/bin' }, '/elsewhere', (f) =>
      f === file ? fs.readFileSync(f, 'utf8') : undefined,
    );
    // Not found through cwd: only through BOTBURROW_LOCAL_DATA_DIR or <cwd>/.data.
    expect(used).toBeUndefined();
    expect(env).toEqual({ PATH: '/bin' });
    const found = withLocalRunSettings({ PATH: '/bin', BOTBURROW_LOCAL_DATA_DIR: dir }, '/elsewhere');
    expect(found.file).toBe(file);
    expect(found.env).toMatchObject({ ...VARS, PATH: '/bin' });
    fs.rmSync(dir, { recursive: true });
  });

  it('is looked for in <cwd>/.data unless BOTBURROW_LOCAL_DATA_DIR says otherwise', () => {
    expect(localDataDir({}, '/repo')).toBe('/repo/.data');
    expect(localDataDir({ BOTBURROW_LOCAL_DATA_DIR: 'tmp/run' }, '/repo')).toBe('/repo/tmp/run');
    expect(localDataDir({ BOTBURROW_LOCAL_DATA_DIR: '' }, '/repo')).toBe('/repo/.data');
    const seen: string[] = [];
    withLocalRunSettings({}, '/repo', (f) => {
      seen.push(f);
      return undefined;
    });
    expect(seen).toEqual(['/repo/.data/local-run.env']);
  });

  it('keeps the other settings of the environment on top of the file', () => {
    const text = `# comment\n\nBOTBURROW_DAILY_TOKEN_LIMIT=5\n${Object.entries(VARS)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`;
    const { env } = withLocalRunSettings({ BOTBURROW_DAILY_TOKEN_LIMIT: '7' }, '/repo', () => text);
    expect(env).toMatchObject({ ...VARS, BOTBURROW_DAILY_TOKEN_LIMIT: '7' });
  });

  it.each(LOCAL_RUN_VARIABLES)('is ignored as a whole when %s is set', (name) => {
    const own = { [name]: 'mine' };
    const { env, file } = withLocalRunSettings(own, '/repo', () =>
      Object.entries(VARS)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
    expect(file).toBeUndefined();
    expect(env).toEqual(own);
  });

  it('points at a left-behind file when Temporal or Valkey is unreachable, only then', () => {
    expect(localRunHint(4, '/repo/.data/local-run.env')).toBe(
      '(settings from /repo/.data/local-run.env, written by ./scripts/start.sh: is the local run still running?)',
    );
    expect(localRunHint(5, '/repo/.data/local-run.env')).toMatch(/still running/);
    expect(localRunHint(3, '/repo/.data/local-run.env')).toBeUndefined();
    expect(localRunHint(4, undefined)).toBeUndefined();
  });
});
