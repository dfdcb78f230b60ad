import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES, SettingsError, loadSettings } from '../../lib/config';
import { renderEnvExample } from '../../scripts/env-example';

describe('settings', () => {
  it('applies the seed defaults on an empty environment', () => {
    const s = loadSettings({});
    expect(s.pollInterval).toBe(30);
    expect(s.runnerMode).toBe('hybrid');
    expect(s.activationTimeout).toBe(600);
    expect(s.maxIterations).toBe(10);
    expect(s.minActivationInterval).toBe(900);
    expect(s.mcpTimeout).toBe(30);
    expect(s.dailyTokenLimit).toBe(100000);
    expect(s.monthlyCostLimit).toBe(100);
    expect(s.temporalAddress).toBe('localhost:7233');
    expect(s.temporalNamespace).toBe('default');
    expect(s.hubApiKey).toBeUndefined();
  });

  it('parses typed values', () => {
    const s = loadSettings({
      BOTBURROW_POLL_INTERVAL: '5',
      BOTBURROW_RUNNER_MODE: 'notification',
      BOTBURROW_MONTHLY_COST_LIMIT: '12.5',
      TEMPORAL_TLS: 'true',
      BOTBURROW_HUB_URL: 'https://hub.example/',
      BOTBURROW_BUDGET_OVERRIDES: '{"a":{"daily_tokens":10}}',
      BOTBURROW_SKILL_SYNC_SOURCES: './a, s3://b/c',
    });
    expect(s.pollInterval).toBe(5);
    expect(s.runnerMode).toBe('notification');
    expect(s.monthlyCostLimit).toBe(12.5);
    expect(s.temporalTls).toBe(true);
    expect(s.hubUrl).toBe('https://hub.example');
    expect(s.budgetOverrides).toEqual({ a: { daily_tokens: 10 } });
    expect(s.skillSyncSources).toEqual(['./a', 's3://b/c']);
  });

  it.each([
    [
      'BOTBURROW_POLL_INTERVAL',
      'soon',
      'BOTBURROW_POLL_INTERVAL: expected an integer between 1 and 3600, got "soon"',
    ],
    [
      'BOTBURROW_RUNNER_MODE',
      'all',
      'BOTBURROW_RUNNER_MODE: expected one of notification, exploration, hybrid, got "all"',
    ],
    [
      'TEMPORAL_ADDRESS',
      'http://x',
      'TEMPORAL_ADDRESS: expected host:port (e.g. localhost:7233), got "http://x"',
    ],
    [
      'BOTBURROW_REDIS_URL',
      'localhost:6379',
      'BOTBURROW_REDIS_URL: expected a URL (redis://… or rediss://…), got "localhost:6379"',
    ],
    ['BOTBURROW_HUB_API_KEY', '', undefined],
  ])('names the variable and the expected form: %s=%s', (name, value, message) => {
    if (message === undefined) {
      expect(() => loadSettings({ [name]: value })).not.toThrow();
      return;
    }
    expect(() => loadSettings({ [name]: value })).toThrow(new SettingsError(message));
  });

  it('hides secret values in errors', () => {
    expect(() => loadSettings({ BOTBURROW_BUDGET_OVERRIDES: '{"a":{"daily_tokens":-1}}' })).toThrow(
      /BOTBURROW_BUDGET_OVERRIDES: expected JSON like/,
    );
  });

  it('reports a required setting that is missing', () => {
    expect(() => loadSettings({}, ['hubApiKey'])).toThrow(/^BOTBURROW_HUB_API_KEY is required/);
  });

  it('requires an endpoint and bucket for the r2 store', () => {
    expect(() => loadSettings({ BOTBURROW_DEFINITIONS_STORE: 'r2' })).toThrow(/BOTBURROW_R2_ENDPOINT/);
  });

  it('keeps .env.example in step with the settings table', () => {
    const committed = fs.readFileSync(path.resolve(__dirname, '../../.env.example'), 'utf8');
    expect(committed).toBe(renderEnvExample());
    for (const name of SETTING_NAMES) expect(committed).toContain(`${name}=`);
  });
});
