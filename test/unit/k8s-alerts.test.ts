/**
 * The alert rules of the rendered PrometheusRule: `promtool check rules`, `promtool test rules`
 * with test/fixtures/prometheus/botburrow-agents.test.yml (a firing and a quiet case per alert),
 * and every metric they use is one lib/metrics.ts registers.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { createMetrics } from '../../lib/metrics';
import { K8S, ROOT, byKind, render, toolPath } from './k8s-support';

const FIXTURE = path.join(ROOT, 'test/fixtures/prometheus/botburrow-agents.test.yml');

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
}
interface Group {
  name: string;
  rules: Rule[];
}
interface AlertTest {
  eval_time: string;
  alertname: string;
  exp_alerts: unknown[];
}

let groups: Group[] = [];
let dir = '';
let promtool: string | undefined;

beforeAll(() => {
  const rule = byKind(render(path.join(K8S, 'apexalgo-iad')), 'PrometheusRule')[0];
  if (!rule) throw new Error('the apexalgo-iad overlay renders no PrometheusRule');
  groups = (rule.spec as { groups: Group[] }).groups;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'botburrow-rules-'));
  promtool = toolPath('PROMTOOL_PATH', 'promtool');
}, 30_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs promtool on `rules` written as rules.yml beside a copy of the fixture. */
function runPromtool(args: string[], rules: Group[]): { status: number | null; output: string } {
  if (!promtool) {
    throw new Error(
      'promtool not found: it comes from the Debian package "prometheus" (scripts/provision.sh installs it ' +
        'with apt-get when run as root; or set PROMTOOL_PATH). The alert rules were NOT tested.',
    );
  }
  fs.writeFileSync(path.join(dir, 'rules.yml'), stringify({ groups: rules }));
  fs.copyFileSync(FIXTURE, path.join(dir, 'botburrow-agents.test.yml'));
  const res = spawnSync(promtool, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

const alerts = (): Rule[] => groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);

describe('alert rules', () => {
  it('include the alerts of the deployment guide with the agreed expressions', () => {
    const byName = new Map(alerts().map((r) => [r.alert!, r]));
    expect(byName.get('BotburrowCoordinatorNoLeader')).toMatchObject({
      expr: 'max(botburrow_coordinator_is_leader) == 0',
      for: '5m',
    });
    expect(byName.get('BotburrowHighPriorityBacklog')?.for).toBe('10m');
    expect(byName.get('BotburrowHighPriorityBacklog')?.expr).toMatch(/> 100$/);
    // A ratio of failures to all activations, not the raw failure rate.
    expect(byName.get('BotburrowActivationFailureRatio')?.expr.replace(/\s+/g, ' ')).toBe(
      'sum(rate(botburrow_activation_failures_total[5m])) / sum(rate(botburrow_activations_total[5m])) > 0.1',
    );
    for (const name of [
      'BotburrowAgentBudgetNearlyUsed',
      'BotburrowAgentBudgetExhausted',
      'BotburrowCircuitBreakerOpen',
    ]) {
      expect(byName.has(name), name).toBe(true);
    }
  });

  it('use only metrics that lib/metrics.ts registers', async () => {
    const registry = new Registry();
    createMetrics(registry, { defaults: false });
    const known = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
    const used = new Set(
      alerts().flatMap((r) => [...r.expr.matchAll(/\bbotburrow_[a-z_]+/g)].map((m) => m[0])),
    );
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((m) => !known.has(m))).toEqual([]);
  });

  it('pass promtool check rules', () => {
    const res = runPromtool(['check', 'rules', 'rules.yml'], groups);
    expect(res.output).toMatch(new RegExp(`SUCCESS: ${groups.flatMap((g) => g.rules).length} rules found`));
    expect(res.status, res.output).toBe(0);
  }, 30_000);

  it('pass promtool test rules, with a firing and a quiet test for every alert', () => {
    const fixture = parse(fs.readFileSync(FIXTURE, 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] };
    const cases = fixture.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const rule of alerts()) {
      const mine = cases.filter((c) => c.alertname === rule.alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${rule.alert} has a test where it fires`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${rule.alert} has a test where it stays quiet`,
      ).toBe(true);
    }
    const res = runPromtool(['test', 'rules', 'botburrow-agents.test.yml'], groups);
    expect(res.status, res.output).toBe(0);
    expect(res.output).toMatch(/SUCCESS/);
  }, 30_000);

  it('promtool test rules catches the raw-rate failure rule and a per-replica leader rule', () => {
    const broken = structuredClone(groups);
    for (const rule of broken.flatMap((g) => g.rules)) {
      if (rule.alert === 'BotburrowActivationFailureRatio')
        rule.expr = 'rate(botburrow_activation_failures_total[5m]) > 0.1';
      if (rule.alert === 'BotburrowCoordinatorNoLeader') rule.expr = 'botburrow_coordinator_is_leader == 0';
    }
    const res = runPromtool(['test', 'rules', 'botburrow-agents.test.yml'], broken);
    expect(res.status).not.toBe(0);
    expect(res.output).toMatch(/failure ratio - quiet at 5 % failures/);
    expect(res.output).toMatch(/no leader - quiet while one replica leads/);
  }, 30_000);
});
