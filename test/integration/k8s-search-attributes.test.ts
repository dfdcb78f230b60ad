/**
 * The search-attribute Job of the k8s manifests, run for real: its shell script, with the Temporal
 * CLI the admin-tools image ships, against the suite's Temporal dev server in a fresh namespace.
 * It registers the contract's attributes with their types, is safe to run twice, and afterwards
 * the Temporal UI's filter `BotburrowAgentId = "…"` is a valid query.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../lib/contract';
import { K8S, byKind, named, render, toolPath, workloads } from '../unit/k8s-support';
import type { Container } from '../unit/k8s-support';
import { services, unique } from '../support/env';

let script = '';
let container: Container;
let configNamespace = '';
let temporal = '';
const namespace = unique('k8s-sa');

function sh(env: Record<string, string>): { status: number | null; output: string } {
  const res = spawnSync('/bin/sh', ['-ec', script], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: `${path.dirname(temporal)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/tmp',
      ...env,
    },
  });
  return { status: res.status, output: `${res.stdout}${res.stderr}` };
}

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(temporal, [...args, '--address', services().temporalAddress], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

beforeAll(() => {
  const found = toolPath('TEMPORAL_CLI_PATH', 'temporal');
  if (!found) throw new Error('no Temporal CLI: run scripts/provision.sh');
  temporal = found;
  const objects = render(path.join(K8S, 'apexalgo-iad'));
  const job = byKind(objects, 'Job').find((j) => j.metadata.name === 'register-search-attributes')!;
  container = workloads([job])[0]!.pod.containers[0]!;
  script = container.args!.join('\n');
  const cm = named(objects, 'ConfigMap', container.envFrom![0]!.configMapRef!.name)!;
  configNamespace = (cm.data as Record<string, string>).TEMPORAL_NAMESPACE!;
  const created = cli(['operator', 'namespace', 'create', '--namespace', namespace]);
  expect(created.status, created.stderr).toBe(0);
});

describe('search-attribute Job', () => {
  it('reads the namespace and address the workers use, from the same ConfigMap', () => {
    expect(container.command).toEqual(['/bin/sh', '-ec']);
    expect(configNamespace).not.toBe('');
    // The script names no address or namespace of its own: the CLI takes TEMPORAL_* from the env.
    expect(script).not.toMatch(/--address|--namespace|-n /);
  });

  it('registers every contract attribute with its type, and a second run changes nothing', () => {
    const env = { TEMPORAL_ADDRESS: services().temporalAddress, TEMPORAL_NAMESPACE: namespace };
    const first = sh(env);
    expect(first.status, first.output).toBe(0);
    expect(first.output.match(/registered as/g)).toHaveLength(SEARCH_ATTRIBUTE_REGISTRATIONS.length);

    const list = cli(['operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json']);
    expect(list.status, list.stderr).toBe(0);
    const custom = (JSON.parse(list.stdout) as { customAttributes: Record<string, string> }).customAttributes;
    for (const pair of SEARCH_ATTRIBUTE_REGISTRATIONS) {
      const [name, type] = pair.split('=') as [string, string];
      expect(custom[name], name).toBe(`INDEXED_VALUE_TYPE_${type.toUpperCase()}`);
    }

    const second = sh(env);
    expect(second.status, second.output).toBe(0);
    expect(second.output.match(/already registered/g)).toHaveLength(SEARCH_ATTRIBUTE_REGISTRATIONS.length);

    const query = cli([
      'workflow',
      'list',
      '--namespace',
      namespace,
      '--query',
      'BotburrowAgentId = "research-agent"',
    ]);
    expect(query.status, query.stderr).toBe(0);
  });

  it('fails loudly when Temporal cannot be reached', () => {
    const res = sh({ TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: namespace });
    expect(res.status).not.toBe(0);
    expect(res.output).not.toMatch(/registered/);
  });
});
