/**
 * The Kubernetes manifests: every overlay (alone and with each optional component) renders with
 * kustomize, every object validates against the Kubernetes API schemas offline, and the manifests
 * agree with the code (setting names, required settings, ports, probe paths, label selectors).
 * Each cross-check is a function returning problems; the "catches" tests feed it a broken copy to
 * show it can fail.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import ts from 'typescript';
import { SETTINGS, SETTING_NAMES, loadSettings } from '../../lib/config';
import {
  ACTIVATION_WORKFLOW,
  RUNNER_MODE_QUEUES,
  SEARCH_ATTRIBUTE_REGISTRATIONS,
  SKILL_SYNC_WORKFLOW,
} from '../../lib/contract';
import type { RunnerMode } from '../../lib/contract';
import { startOpsServer } from '../../lib/http-server';
import type { OpsServer } from '../../lib/http-server';
import { createLogger } from '../../lib/logger';
import {
  K8S,
  ROOT,
  byKind,
  named,
  renderVariants,
  schemaProblems,
  handAppliedManifests,
  selects,
  unknownFieldProblems,
  workloads,
} from './k8s-support';
import type { Container, K8sObject, LabelSelector, Probe, Variant, Workload } from './k8s-support';

/** Environment names in manifests that are not settings of lib/config.ts, and why. */
const NON_SETTING_ENV: Record<string, string> = {
  NODE_OPTIONS: 'heap cap and young generation of the node process',
  MALLOC_ARENA_MAX: "glibc malloc arenas of the node process (its threads' memory)",
  NODE_ENV: 'set in the image',
  HOME: 'writable home on a read-only root filesystem (npx caches of MCP servers)',
  REDISCLI_AUTH: "valkey-cli's login as the operator user (valkey pod only)",
};

const SECRET_NAME = 'botburrow-agents-secrets';
const secretSettings = Object.values(SETTINGS)
  .filter((s) => s.secret)
  .map((s) => s.env);
/** The Secret keys of the Valkey users (k8s/base/valkey-acl.sh); BOTBURROW_REDIS_PASSWORD is one of them. */
const VALKEY_ROLE_KEYS = [
  'VALKEY_COORDINATOR_PASSWORD',
  'VALKEY_RUNNER_PASSWORD',
  'VALKEY_OPERATOR_PASSWORD',
];

/** The Secret key an env var may come from: its own name, or the role password of its Valkey user. */
function allowedSecretKey(name: string, c: Container, w: { obj: K8sObject }): string {
  if (name === 'BOTBURROW_REDIS_PASSWORD') {
    const user = c.env?.find((e) => e.name === 'BOTBURROW_REDIS_USERNAME')?.value ?? '(no user)';
    return `VALKEY_${user.toUpperCase()}_PASSWORD`;
  }
  if (name === 'REDISCLI_AUTH' && w.obj.metadata.name === 'valkey') return 'VALKEY_OPERATOR_PASSWORD';
  return name;
}

/** Model key variables a definition may name (not settings, but secrets the runners get). */
const modelKeyEnvs = (SETTINGS.modelKeyEnvs.default as readonly string[]).filter(
  (n) => !secretSettings.includes(n),
);

type Process = 'coordinator' | 'runner' | 'skill-sync';

/** The process a container runs, from its command (`node dist/workers/<process>.js`). */
function processOf(c: Container): Process | undefined {
  const m = /^dist\/workers\/(coordinator|runner|skill-sync)\.js$/.exec(c.command?.[1] ?? '');
  return c.command?.[0] === 'node' && m ? (m[1] as Process) : undefined;
}

/** The port a process serves when BOTBURROW_METRICS_PORT is unset, read from its entry point. */
function defaultPort(proc: Process): number {
  const source = fs.readFileSync(path.join(ROOT, `workers/${proc}.ts`), 'utf8');
  const m = /metricsPort\s*\?\?\s*(\d+)/.exec(source);
  if (!m) throw new Error(`workers/${proc}.ts: no "settings.metricsPort ?? <port>" found`);
  return Number(m[1]);
}

/**
 * The settings a process requires: the second argument of its loadSettings(OrExit) call
 * (an array literal, or a const initialised with one), as env names.
 */
function requiredSettings(proc: Process): string[] {
  const file = path.join(ROOT, `workers/${proc}.ts`);
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const consts = new Map<string, ts.Expression>();
  const calls: ts.CallExpression[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      consts.set(node.name.text, node.initializer);
    }
    if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      ['loadSettings', 'loadSettingsOrExit'].includes(node.expression.text)
    ) {
      calls.push(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (calls.length === 0) throw new Error(`workers/${proc}.ts does not call loadSettingsOrExit`);
  const strip = (e: ts.Expression): ts.Expression =>
    ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e)
      ? strip(e.expression)
      : e;
  const keys: string[] = [];
  for (const call of calls) {
    let arg = call.arguments[1];
    if (!arg) continue;
    arg = strip(arg);
    if (ts.isIdentifier(arg)) arg = consts.has(arg.text) ? strip(consts.get(arg.text)!) : arg;
    if (!ts.isArrayLiteralExpression(arg)) {
      throw new Error(`workers/${proc}.ts: cannot read the required settings (${arg.getText()})`);
    }
    for (const el of arg.elements) {
      if (!ts.isStringLiteral(el)) throw new Error(`workers/${proc}.ts: required setting ${el.getText()}`);
      keys.push(el.text);
    }
  }
  return keys.map((k) => {
    const spec = (SETTINGS as Record<string, { env: string }>)[k];
    if (!spec) throw new Error(`workers/${proc}.ts requires unknown setting ${k}`);
    return spec.env;
  });
}

interface ContainerEnv {
  /** Variables the container surely has: ConfigMap keys, literal values, non-optional secret keys. */
  surely: Record<string, string>;
  /** Every variable name the container may have. */
  names: string[];
}

function containerEnv(c: Container, objects: K8sObject[]): ContainerEnv {
  const surely: Record<string, string> = {};
  const names: string[] = [];
  for (const from of c.envFrom ?? []) {
    if (from.configMapRef) {
      const cm = named(objects, 'ConfigMap', from.configMapRef.name);
      const data = (cm?.data ?? {}) as Record<string, string>;
      Object.assign(surely, data);
      names.push(...Object.keys(data));
    }
  }
  for (const e of c.env ?? []) {
    names.push(e.name);
    if (e.value !== undefined) surely[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef && e.valueFrom.secretKeyRef.optional !== true) {
      surely[e.name] = 'placeholder-secret';
    }
  }
  return { surely, names };
}

/** Resolves a probe or Service port (number or container port name) to a number. */
function portNumber(port: number | string | undefined, c: Container): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

function botburrowContainers(objects: K8sObject[]): { w: Workload; c: Container; proc: Process }[] {
  return workloads(objects).flatMap((w) =>
    w.pod.containers.flatMap((c) => {
      const proc = processOf(c);
      return proc ? [{ w, c, proc }] : [];
    }),
  );
}

// ------------------------------------------------------------------------------------------
// Cross-checks: each returns human-readable problems, [] when the manifests agree with the code.

function envNameProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const cm of byKind(objects, 'ConfigMap').filter((o) =>
    o.metadata.name.startsWith('botburrow-agents-config'),
  )) {
    for (const key of Object.keys(cm.data ?? {})) {
      if (!SETTING_NAMES.includes(key))
        problems.push(`ConfigMap ${cm.metadata.name}: ${key} is not a setting`);
      if (secretSettings.includes(key)) problems.push(`ConfigMap ${cm.metadata.name}: ${key} is a secret`);
    }
  }
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      // Custom MCP servers may reference runner variables that BOTBURROW_MCP_ENV_ALLOWLIST names.
      const mcpAllowed = (containerEnv(c, objects).surely.BOTBURROW_MCP_ENV_ALLOWLIST ?? '')
        .split(',')
        .map((x) => x.trim());
      for (const e of c.env ?? []) {
        const modelKey = modelKeyEnvs.includes(e.name);
        if (modelKey && (e.value !== undefined || e.valueFrom?.secretKeyRef?.key !== e.name)) {
          problems.push(
            `${w.obj.kind}/${w.obj.metadata.name}: model key ${e.name} must come from ${SECRET_NAME}`,
          );
        }
        if (
          !SETTING_NAMES.includes(e.name) &&
          !(e.name in NON_SETTING_ENV) &&
          !mcpAllowed.includes(e.name) &&
          !modelKey
        ) {
          problems.push(`${w.obj.kind}/${w.obj.metadata.name} ${c.name}: env ${e.name} is not a setting`);
        }
        const ref = e.valueFrom?.secretKeyRef;
        if (
          ref &&
          (ref.name !== SECRET_NAME ||
            ref.key !== allowedSecretKey(e.name, c, w) ||
            !(secretSettings.includes(e.name) || modelKeyEnvs.includes(e.name) || e.name === 'REDISCLI_AUTH'))
        ) {
          problems.push(`${w.obj.kind}/${w.obj.metadata.name}: env ${e.name} from ${ref.name}/${ref.key}`);
        }
        if (e.value !== undefined && secretSettings.includes(e.name)) {
          problems.push(`${w.obj.kind}/${w.obj.metadata.name}: secret ${e.name} has a literal value`);
        }
      }
    }
  }
  return problems;
}

function requiredSettingProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  // A default pointing at localhost is only right on a laptop: a deployment must set it.
  const localDefaults = Object.values(SETTINGS)
    .filter((s) => 'default' in s && typeof s.default === 'string' && s.default.includes('localhost'))
    .map((s) => s.env);
  for (const { w, c, proc } of botburrowContainers(objects)) {
    const where = `${w.obj.kind}/${w.obj.metadata.name}`;
    const env = containerEnv(c, objects);
    for (const name of [...requiredSettings(proc), ...localDefaults]) {
      if (!(name in env.surely)) problems.push(`${where}: ${name} is required but not surely provided`);
    }
    try {
      loadSettings(env.surely, []);
    } catch (err) {
      problems.push(`${where}: settings do not load: ${(err as Error).message}`);
    }
  }
  return problems;
}

function portAndProbeProblems(objects: K8sObject[], ports: Record<Process, number>): string[] {
  const problems: string[] = [];
  const expectProbe = (
    where: string,
    c: Container,
    probe: Probe | undefined,
    kind: string,
    want: string,
  ): void => {
    if (!probe?.httpGet) return void problems.push(`${where}: no HTTP ${kind} probe`);
    if (probe.httpGet.path !== want)
      problems.push(`${where}: ${kind} probe path ${probe.httpGet.path} ≠ ${want}`);
    const port = portNumber(probe.httpGet.port, c);
    if (port !== ports[processOf(c)!]) problems.push(`${where}: ${kind} probe port ${String(port)}`);
  };
  for (const { w, c, proc } of botburrowContainers(objects)) {
    const where = `${w.obj.kind}/${w.obj.metadata.name}`;
    const metrics = c.ports?.find((p) => p.name === 'metrics');
    if (metrics?.containerPort !== ports[proc]) {
      problems.push(`${where}: metrics containerPort ${String(metrics?.containerPort)} ≠ ${ports[proc]}`);
    }
    const envPort = c.env?.find((e) => e.name === 'BOTBURROW_METRICS_PORT')?.value;
    if (envPort !== undefined && Number(envPort) !== ports[proc]) {
      problems.push(`${where}: BOTBURROW_METRICS_PORT ${envPort} ≠ ${ports[proc]}`);
    }
    expectProbe(where, c, c.livenessProbe, 'liveness', '/health');
    expectProbe(where, c, c.readinessProbe, 'readiness', '/ready');
    if (c.startupProbe) expectProbe(where, c, c.startupProbe, 'startup', '/health');
  }
  return problems;
}

interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
}

function serviceProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  for (const svc of byKind(objects, 'Service')) {
    const spec = svc.spec as { selector?: Record<string, string>; ports: ServicePort[] };
    const backends = all.filter((w) => selects({ matchLabels: spec.selector ?? {} }, w.podLabels));
    if (backends.length === 0) problems.push(`Service/${svc.metadata.name} selects no pods`);
    for (const p of spec.ports) {
      for (const w of backends) {
        const ok = w.pod.containers.some((c) => {
          const target = portNumber(p.targetPort ?? p.port, c);
          return target !== undefined && (c.ports ?? []).some((cp) => cp.containerPort === target);
        });
        if (!ok)
          problems.push(
            `Service/${svc.metadata.name} port ${p.port} has no container port in ${w.obj.metadata.name}`,
          );
      }
    }
  }
  for (const sm of byKind(objects, 'ServiceMonitor')) {
    const spec = sm.spec as { selector: LabelSelector; endpoints: { port?: string; path?: string }[] };
    const services = byKind(objects, 'Service').filter(
      (s) =>
        s.metadata.namespace === sm.metadata.namespace && selects(spec.selector, s.metadata.labels ?? {}),
    );
    if (services.length === 0) problems.push(`ServiceMonitor/${sm.metadata.name} selects no Service`);
    for (const ep of spec.endpoints) {
      if (ep.path !== undefined && ep.path !== '/metrics')
        problems.push(`ServiceMonitor/${sm.metadata.name}: path ${ep.path}`);
      for (const s of services) {
        if (!(s.spec as { ports: ServicePort[] }).ports.some((p) => p.name === ep.port)) {
          problems.push(
            `ServiceMonitor/${sm.metadata.name}: Service/${s.metadata.name} has no port ${String(ep.port)}`,
          );
        }
      }
    }
  }
  return problems;
}

interface PolicyPeer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string };
}
interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: string[];
  ingress?: { from?: PolicyPeer[]; ports?: { port?: number | string }[] }[];
  egress?: { to?: PolicyPeer[]; ports?: { port?: number | string }[] }[];
}

function networkPolicyProblems(objects: K8sObject[], prometheusNamespace: string): string[] {
  const problems: string[] = [];
  const all = workloads(objects);
  const policies = byKind(objects, 'NetworkPolicy');
  const isEmpty = (s: LabelSelector): boolean => !s.matchLabels && !s.matchExpressions;
  if (
    !policies.some(
      (p) =>
        isEmpty((p.spec as PolicySpec).podSelector) &&
        (p.spec as PolicySpec).policyTypes?.includes('Ingress') &&
        !(p.spec as PolicySpec).ingress,
    )
  ) {
    problems.push('no default-deny ingress policy');
  }
  for (const p of policies) {
    const spec = p.spec as PolicySpec;
    const targets = all.filter((w) => selects(spec.podSelector, w.podLabels));
    if (!isEmpty(spec.podSelector) && targets.length === 0)
      problems.push(`NetworkPolicy/${p.metadata.name} selects no pods`);
    const peers = [
      ...(spec.ingress ?? []).flatMap((r) => r.from ?? []),
      ...(spec.egress ?? []).flatMap((r) => r.to ?? []),
    ];
    for (const peer of peers) {
      if (
        peer.podSelector &&
        !peer.namespaceSelector &&
        !all.some((w) => selects(peer.podSelector, w.podLabels))
      ) {
        problems.push(`NetworkPolicy/${p.metadata.name}: a peer podSelector matches no pod`);
      }
    }
    for (const rule of spec.ingress ?? []) {
      for (const port of rule.ports ?? []) {
        if (typeof port.port !== 'string') continue;
        for (const w of targets) {
          if (!w.pod.containers.some((c) => c.ports?.some((cp) => cp.name === port.port))) {
            problems.push(
              `NetworkPolicy/${p.metadata.name}: ${w.obj.metadata.name} has no port named ${port.port}`,
            );
          }
        }
      }
    }
  }
  // Nothing reaches runners but Prometheus, and only on the metrics port.
  for (const runner of all.filter((w) => w.podLabels['app.kubernetes.io/component'] === 'runner')) {
    const ingress = policies
      .filter((p) => selects((p.spec as PolicySpec).podSelector, runner.podLabels))
      .flatMap((p) => ((p.spec as PolicySpec).ingress ?? []).map((r) => ({ p, r })));
    for (const { p, r } of ingress) {
      const fromPrometheus =
        (r.from ?? []).length > 0 &&
        (r.from ?? []).every(
          (peer) =>
            !peer.ipBlock &&
            !peer.podSelector &&
            peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === prometheusNamespace,
        );
      const metricsOnly = (r.ports ?? []).length > 0 && (r.ports ?? []).every((pp) => pp.port === 'metrics');
      if (!fromPrometheus || !metricsOnly) {
        problems.push(
          `NetworkPolicy/${p.metadata.name} lets something other than Prometheus reach ${runner.obj.metadata.name}`,
        );
      }
    }
  }
  return problems;
}

function scalingAndDisruptionProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const deployments = byKind(objects, 'Deployment');
  const scaled = new Map<string, string>();
  for (const o of [...byKind(objects, 'HorizontalPodAutoscaler'), ...byKind(objects, 'ScaledObject')]) {
    const ref = (o.spec as { scaleTargetRef: { kind?: string; name: string } }).scaleTargetRef;
    if (!named(deployments, 'Deployment', ref.name))
      problems.push(`${o.kind}/${o.metadata.name} scales a missing ${ref.name}`);
    if (scaled.has(ref.name))
      problems.push(`${ref.name} is scaled by both ${scaled.get(ref.name)} and ${o.kind}`);
    scaled.set(ref.name, o.kind);
  }
  // KEDA: a temporal trigger authenticates with a TriggerAuthentication that exists and reads a
  // secret setting from the Secret; once one trigger authenticates, all must (same Temporal).
  type Trigger = { type: string; authenticationRef?: { name: string }; metadata: Record<string, string> };
  const triggers = byKind(objects, 'ScaledObject').flatMap((so) =>
    (so.spec as { triggers: Trigger[] }).triggers
      .filter((t) => t.type === 'temporal')
      .map((t) => ({ so, t })),
  );
  const authenticated = triggers.filter(({ t }) => t.authenticationRef);
  for (const { so, t } of triggers) {
    const where = `ScaledObject/${so.metadata.name} ${t.metadata.taskQueue}`;
    if (authenticated.length > 0 && !t.authenticationRef) problems.push(`${where}: no authenticationRef`);
    if (!t.authenticationRef) continue;
    const auth = named(objects, 'TriggerAuthentication', t.authenticationRef.name);
    if (!auth) {
      problems.push(`${where}: TriggerAuthentication ${t.authenticationRef.name} is missing`);
      continue;
    }
    for (const ref of (auth.spec as { secretTargetRef?: { parameter: string; name: string; key: string }[] })
      .secretTargetRef ?? []) {
      if (!['apiKey', 'cert', 'key', 'ca', 'keyPassword'].includes(ref.parameter)) {
        problems.push(`TriggerAuthentication/${auth.metadata.name}: unknown parameter ${ref.parameter}`);
      }
      if (ref.name === SECRET_NAME && !secretSettings.includes(ref.key)) {
        problems.push(`TriggerAuthentication/${auth.metadata.name}: ${ref.key} is not in ${SECRET_NAME}`);
      }
    }
  }
  for (const pdb of byKind(objects, 'PodDisruptionBudget')) {
    const selector = (pdb.spec as { selector: LabelSelector }).selector;
    if (!workloads(objects).some((w) => selects(selector, w.podLabels))) {
      problems.push(`PodDisruptionBudget/${pdb.metadata.name} selects no pods`);
    }
  }
  for (const { w, c, proc } of botburrowContainers(objects)) {
    const where = `${w.obj.kind}/${w.obj.metadata.name}`;
    if (proc === 'runner') {
      const mode = c.env?.find((e) => e.name === 'BOTBURROW_RUNNER_MODE')?.value;
      if (w.obj.metadata.name !== `runner-${String(mode)}`)
        problems.push(`${where}: runs mode ${String(mode)}`);
      const grace = loadSettings(containerEnv(c, objects).surely).shutdownGrace;
      if ((w.pod.terminationGracePeriodSeconds ?? 30) <= grace) {
        problems.push(
          `${where}: terminationGracePeriodSeconds ${String(w.pod.terminationGracePeriodSeconds)} ≤ shutdown grace ${grace}`,
        );
      }
      const so = byKind(objects, 'ScaledObject').find(
        (o) => (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === w.obj.metadata.name,
      );
      if (so) {
        const queues = (
          so.spec as { triggers: { type: string; metadata: Record<string, string> }[] }
        ).triggers
          .filter((t) => t.type === 'temporal')
          .map((t) => t.metadata.taskQueue);
        const want = [...RUNNER_MODE_QUEUES[mode as RunnerMode]];
        if (JSON.stringify([...queues].sort()) !== JSON.stringify(want.sort())) {
          problems.push(
            `ScaledObject/${so.metadata.name} watches ${queues.join(',')}, the runner serves ${want.join(',')}`,
          );
        }
      }
    }
    if (proc === 'coordinator') {
      const replicas = (w.obj.spec as { replicas?: number }).replicas;
      if (replicas !== 2) problems.push(`${where}: ${String(replicas)} replicas, want 2`);
      const spread = (w.pod.topologySpreadConstraints ?? []).some(
        (t) => t.topologyKey === 'kubernetes.io/hostname' && selects(t.labelSelector, w.podLabels),
      );
      if (!spread) problems.push(`${where}: replicas are not spread across nodes`);
    }
  }
  return problems;
}

/** What Pod Security "restricted" demands of every pod and container. */
function podSecurityProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    const where = `${w.obj.kind}/${w.obj.metadata.name}`;
    const pod = w.pod.securityContext ?? {};
    for (const c of [...w.pod.containers, ...(w.pod.initContainers ?? [])]) {
      const sc = c.securityContext ?? {};
      if (pod.runAsNonRoot !== true && sc.runAsNonRoot !== true)
        problems.push(`${where} ${c.name}: runAsNonRoot`);
      if (sc.allowPrivilegeEscalation !== false)
        problems.push(`${where} ${c.name}: allowPrivilegeEscalation`);
      if (!((sc.capabilities as { drop?: string[] } | undefined)?.drop ?? []).includes('ALL')) {
        problems.push(`${where} ${c.name}: capabilities not dropped`);
      }
      const seccomp = ((sc.seccompProfile ?? pod.seccompProfile) as { type?: string } | undefined)?.type;
      if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
        problems.push(`${where} ${c.name}: seccompProfile`);
    }
  }
  return problems;
}

/** The `name=Type` pairs the search-attribute Job registers. */
function jobSearchAttributes(objects: K8sObject[]): string[] {
  const job = byKind(objects, 'Job').find((j) => j.metadata.name === 'register-search-attributes');
  const script = job ? (workloads([job])[0]!.pod.containers[0]!.args?.join('\n') ?? '') : '';
  return [...script.matchAll(/\b(Botburrow\w+=\w+)\b/g)].map((m) => m[1]!);
}

/** Names the prebuilt workflow bundle exports: its entry (from scripts/build-bundle.ts), read statically. */
function bundleExports(): Set<string> {
  const builder = fs.readFileSync(path.join(ROOT, 'scripts/build-bundle.ts'), 'utf8');
  const entry = /'\.\.\/(workflows\/[\w/-]+)\.ts'/.exec(builder)?.[1];
  if (!entry) throw new Error('scripts/build-bundle.ts: bundle entry not found');
  const names = new Set<string>();
  const visit = (rel: string): void => {
    const file = path.join(ROOT, `${rel}.ts`);
    const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    for (const st of source.statements) {
      if (ts.isExportDeclaration(st)) {
        if (st.exportClause && ts.isNamedExports(st.exportClause)) {
          for (const el of st.exportClause.elements) names.add(el.name.text);
        } else if (st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier)) {
          visit(path.join(path.dirname(rel), st.moduleSpecifier.text));
        }
      } else if (
        (ts.isFunctionDeclaration(st) || ts.isVariableStatement(st)) &&
        st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
      ) {
        if (ts.isFunctionDeclaration(st) && st.name) names.add(st.name.text);
        if (ts.isVariableStatement(st)) {
          for (const d of st.declarationList.declarations)
            if (ts.isIdentifier(d.name)) names.add(d.name.text);
        }
      }
    }
  };
  visit(entry);
  return names;
}

/** The workflow each process executes from its bundle (the coordinator runs none). */
const PROCESS_WORKFLOWS: Record<Process, string[]> = {
  coordinator: [],
  runner: [ACTIVATION_WORKFLOW],
  'skill-sync': [SKILL_SYNC_WORKFLOW],
};

/**
 * Runners load the prebuilt bundle (no bundling at start in production), and a process is only
 * pointed at the bundle when the bundle holds the workflows it runs.
 */
function bundleProblems(objects: K8sObject[], exported: Set<string>): string[] {
  const problems: string[] = [];
  for (const { w, c, proc } of botburrowContainers(objects)) {
    const where = `${w.obj.kind}/${w.obj.metadata.name}`;
    const bundle = containerEnv(c, objects).surely.BOTBURROW_WORKFLOW_BUNDLE;
    if (proc === 'runner' && bundle === undefined) problems.push(`${where}: no BOTBURROW_WORKFLOW_BUNDLE`);
    if (bundle === undefined) continue;
    for (const wf of PROCESS_WORKFLOWS[proc]) {
      if (!exported.has(wf)) problems.push(`${where}: the bundle ${bundle} does not contain ${wf}`);
    }
    if (PROCESS_WORKFLOWS[proc].length === 0) problems.push(`${where}: runs no workflows but sets a bundle`);
  }
  return problems;
}

/**
 * The runners' memory settings are the ones bench/runner.ts measured (it reads
 * runner-notification's): the same NODE_OPTIONS and MALLOC_ARENA_MAX in every runner Deployment,
 * a heap cap well below the container limit (the sandboxed CLIs and MCP servers share it).
 */
function runnerMemoryProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  const mib = (q: string | undefined): number => {
    const m = /^(\d+)(Mi|Gi)$/.exec(q ?? '');
    return m ? Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1) : NaN;
  };
  const runners = botburrowContainers(objects).filter((r) => r.proc === 'runner');
  const env = (c: Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;
  const first = runners[0];
  for (const { w, c } of runners) {
    const name = w.obj.metadata.name;
    const nodeOptions = env(c, 'NODE_OPTIONS') ?? '';
    const cap = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
    const limits = (c as { resources?: { limits?: { memory?: string } } }).resources?.limits;
    if (!Number.isFinite(cap)) problems.push(`${name}: NODE_OPTIONS sets no --max-old-space-size`);
    else if (!(cap * 2 <= mib(limits?.memory))) {
      problems.push(
        `${name}: heap cap ${cap} MiB leaves under half of the ${limits?.memory} limit to the rest`,
      );
    }
    if (env(c, 'MALLOC_ARENA_MAX') === undefined) problems.push(`${name}: MALLOC_ARENA_MAX is not set`);
    if (
      first &&
      (nodeOptions !== env(first.c, 'NODE_OPTIONS') ||
        env(c, 'MALLOC_ARENA_MAX') !== env(first.c, 'MALLOC_ARENA_MAX'))
    ) {
      problems.push(
        `${name}: memory settings differ from ${first.w.obj.metadata.name}'s (the benchmarked ones)`,
      );
    }
  }
  if (runners.length === 0) problems.push('no runner container');
  return problems;
}

// ------------------------------------------------------------------------------------------

let variants: Variant[] = [];
let ops: OpsServer;
const ports = {} as Record<Process, number>;

beforeAll(async () => {
  variants = renderVariants();
  for (const proc of ['coordinator', 'runner', 'skill-sync'] as const) ports[proc] = defaultPort(proc);
  ops = await startOpsServer({
    port: 0,
    host: '127.0.0.1',
    registry: new Registry(),
    logger: createLogger('k8s-test', 'fatal'),
  });
}, 120_000);

afterAll(async () => {
  await ops?.close();
});

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const overlay = (): Variant => variants.find((v) => !v.name.includes('+'))!;
const deployment = (objects: K8sObject[], name: string): Workload =>
  workloads(objects).find((w) => w.obj.kind === 'Deployment' && w.obj.metadata.name === name)!;

// Rendering and type checking take seconds on a busy 2-core machine.
describe('k8s manifests', () => {
  it('render: every overlay, alone and with each optional component', () => {
    const names = variants.map((v) => v.name);
    expect(names).toContain('apexalgo-iad');
    expect(names).toContain('apexalgo-iad+keda');
    for (const v of variants) {
      const kinds = new Set(v.objects.map((o) => o.kind));
      for (const kind of [
        'Namespace',
        'ConfigMap',
        'StatefulSet',
        'Deployment',
        'Service',
        'NetworkPolicy',
      ]) {
        expect(kinds, `${v.name} has a ${kind}`).toContain(kind);
      }
      for (const kind of [
        'PodDisruptionBudget',
        'ServiceMonitor',
        'PrometheusRule',
        'Job',
        'ServiceAccount',
      ]) {
        expect(kinds, `${v.name} has a ${kind}`).toContain(kind);
      }
      for (const o of v.objects.filter((x) => x.kind !== 'Namespace')) {
        expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('botburrow-agents');
      }
      const deployments = byKind(v.objects, 'Deployment')
        .map((d) => d.metadata.name)
        .sort();
      expect(deployments).toEqual([
        'coordinator',
        'runner-exploration',
        'runner-hybrid',
        'runner-notification',
        'skill-sync',
      ]);
    }
    expect(names).toContain('apexalgo-iad+keda-temporal-api-key');
    for (const keda of variants.filter((v) => v.name.includes('+keda'))) {
      expect(byKind(keda.objects, 'ScaledObject'), keda.name).toHaveLength(3);
      expect(byKind(keda.objects, 'HorizontalPodAutoscaler'), keda.name).toHaveLength(0);
    }
    const withKey = variants.find((v) => v.name === 'apexalgo-iad+keda-temporal-api-key')!;
    expect(byKind(withKey.objects, 'TriggerAuthentication').map((o) => o.metadata.name)).toEqual([
      'temporal-api-key',
    ]);
    expect(byKind(overlay().objects, 'HorizontalPodAutoscaler')).toHaveLength(3);
  });

  it('schemas: every object, hand-applied manifests too, validates against the Kubernetes API schemas', async () => {
    const problems: string[] = [];
    for (const o of [...variants.flatMap((v) => v.objects), ...handAppliedManifests()])
      problems.push(...(await schemaProblems(o)));
    expect(problems).toEqual([]);
  }, 60_000);

  it('schemas: no object has a field its type does not declare', () => {
    const seen = new Set<string>();
    const unique = [...variants.flatMap((v) => v.objects), ...handAppliedManifests()].filter((o) => {
      const key = JSON.stringify(o);
      return seen.has(key) ? false : (seen.add(key), true);
    });
    expect(unknownFieldProblems(unique)).toEqual([]);
  }, 60_000);

  it('schemas: catch a wrong type, a missing required field and an unknown field', async () => {
    const objects = clone(overlay().objects);
    const coordinator = deployment(objects, 'coordinator');
    (coordinator.pod.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = '9090';
    expect((await schemaProblems(coordinator.obj)).join('\n')).toMatch(/containerPort must be integer/);
    const svc = clone(named(objects, 'Service', 'runner')!);
    delete (svc.spec as { ports: { port?: number }[] }).ports[0]!.port;
    expect((await schemaProblems(svc)).join('\n')).toMatch(/port/);
    const hpa = clone(byKind(objects, 'HorizontalPodAutoscaler')[0]!);
    (hpa.spec as Record<string, unknown>).minReplica = 1;
    expect(unknownFieldProblems([hpa]).join('\n')).toMatch(/minReplica/);
    expect(await schemaProblems({ ...hpa, apiVersion: 'example.com/v1' })).toEqual([
      `HorizontalPodAutoscaler/${hpa.metadata.name}: no schema for apiVersion example.com/v1`,
    ]);
  }, 60_000);

  it('env: every name is a setting the code reads (or an allowed runtime variable); secrets come from the Secret', () => {
    for (const v of variants) expect(envNameProblems(v.objects), v.name).toEqual([]);
  });

  it('env: the Secret template has exactly the secret settings and model keys, and the ConfigMap none of them', () => {
    const template = handAppliedManifests().find(
      (o) => o.kind === 'Secret' && o.metadata.name === SECRET_NAME,
    )!;
    // The external-secrets example fills the same Secret with the same keys.
    const external = handAppliedManifests().find((o) => o.kind === 'ExternalSecret')!;
    const spec = external.spec as { target: { name: string }; data: { secretKey: string }[] };
    expect(spec.target.name).toBe(SECRET_NAME);
    const secrets = [
      ...secretSettings.filter((n) => n !== 'BOTBURROW_REDIS_PASSWORD'),
      ...modelKeyEnvs,
      ...VALKEY_ROLE_KEYS,
    ].sort();
    expect(spec.data.map((d) => d.secretKey).sort()).toEqual(secrets);
    expect(Object.keys(template.stringData as Record<string, string>).sort()).toEqual(secrets);
    expect(Object.values(template.stringData as Record<string, string>).every((v) => v === '')).toBe(true);
  });

  it('env: catches an unknown name and a secret in the ConfigMap', () => {
    const objects = clone(overlay().objects);
    deployment(objects, 'runner-hybrid').pod.containers[0]!.env!.push({
      name: 'BOTBURROW_RUNER_MODE',
      value: 'hybrid',
    });
    const cm = byKind(objects, 'ConfigMap').find((o) =>
      o.metadata.name.startsWith('botburrow-agents-config'),
    )!;
    (cm.data as Record<string, string>).ANTHROPIC_API_KEY = 'sk-oops';
    const hybrid = deployment(objects, 'runner-hybrid').pod.containers[0]!;
    hybrid.env!.push({ name: 'JIRA_TOKEN', value: 'for a custom MCP server' });
    expect(envNameProblems(objects).join('\n')).toMatch(/env JIRA_TOKEN is not a setting/);
    hybrid.env!.push({ name: 'BOTBURROW_MCP_ENV_ALLOWLIST', value: 'JIRA_TOKEN' });
    const problems = envNameProblems(objects).join('\n');
    expect(problems).not.toMatch(/JIRA_TOKEN/);
    expect(problems).toMatch(/env BOTBURROW_RUNER_MODE is not a setting/);
    expect(problems).toMatch(/ANTHROPIC_API_KEY is a secret/);
    // A model key with a literal value is a leak waiting to happen.
    const openai = hybrid.env!.find((e) => e.name === 'OPENAI_API_KEY')!;
    delete openai.valueFrom;
    openai.value = 'sk-literal';
    expect(envNameProblems(objects).join('\n')).toMatch(
      /model key OPENAI_API_KEY must come from botburrow-agents-secrets/,
    );
  });

  it('env: every process gets its required settings and its environment loads without error', () => {
    for (const v of variants) expect(requiredSettingProblems(v.objects), v.name).toEqual([]);
  });

  it('env: catches a missing address and a value the settings parser refuses', () => {
    const objects = clone(overlay().objects);
    const cm = byKind(objects, 'ConfigMap').find((o) =>
      o.metadata.name.startsWith('botburrow-agents-config'),
    )!;
    delete (cm.data as Record<string, string>).TEMPORAL_ADDRESS;
    (cm.data as Record<string, string>).BOTBURROW_POLL_INTERVAL = '30s';
    const problems = requiredSettingProblems(objects).join('\n');
    expect(problems).toMatch(/coordinator: TEMPORAL_ADDRESS is required/);
    expect(problems).toMatch(/BOTBURROW_POLL_INTERVAL: expected an integer/);
  });

  it('ports and probes: what the processes serve (9090/9091/9092, /health, /ready)', async () => {
    expect(ports).toEqual({ coordinator: 9090, runner: 9091, 'skill-sync': 9092 });
    for (const v of variants) expect(portAndProbeProblems(v.objects, ports), v.name).toEqual([]);
    // The probe paths answer 200 on the ops server every process runs (lib/http-server.ts).
    const paths = new Set<string>(['/metrics']);
    for (const { c } of botburrowContainers(overlay().objects)) {
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        if (probe?.httpGet) paths.add(probe.httpGet.path);
      }
    }
    expect([...paths].sort()).toEqual(['/health', '/metrics', '/ready']);
    for (const p of paths) {
      const res = await fetch(`http://127.0.0.1:${ops.port}${p}`);
      expect(res.status, p).toBe(200);
    }
  });

  it('ports and probes: catches a wrong probe path and port', () => {
    const objects = clone(overlay().objects);
    const runner = deployment(objects, 'runner-notification').pod.containers[0]!;
    runner.readinessProbe!.httpGet!.path = '/readyz';
    runner.ports![0]!.containerPort = 8080;
    const problems = portAndProbeProblems(objects, ports).join('\n');
    expect(problems).toMatch(/readiness probe path \/readyz/);
    expect(problems).toMatch(/metrics containerPort 8080 ≠ 9091/);
  });

  it('services and ServiceMonitors select real pods, ports and Services', () => {
    for (const v of variants) expect(serviceProblems(v.objects), v.name).toEqual([]);
    const objects = clone(overlay().objects);
    (named(objects, 'ServiceMonitor', 'runner')!.spec as { selector: LabelSelector }).selector.matchLabels = {
      'app.kubernetes.io/name': 'runners',
    };
    (named(objects, 'Service', 'skill-sync')!.spec as { ports: ServicePort[] }).ports[0]!.targetPort = 9999;
    const problems = serviceProblems(objects).join('\n');
    expect(problems).toMatch(/ServiceMonitor\/runner selects no Service/);
    expect(problems).toMatch(/Service\/skill-sync port 9092 has no container port/);
  });

  it('network policies select real pods; nothing but Prometheus reaches runners', () => {
    for (const v of variants) expect(networkPolicyProblems(v.objects, 'monitoring'), v.name).toEqual([]);
    const objects = clone(overlay().objects);
    const open = clone(named(objects, 'NetworkPolicy', 'allow-prometheus-scrape')!);
    open.metadata.name = 'too-open';
    (open.spec as PolicySpec).ingress = [{ from: [{ namespaceSelector: {} }] }];
    objects.push(open);
    (named(objects, 'NetworkPolicy', 'valkey-ingress')!.spec as PolicySpec).podSelector = {
      matchLabels: { 'app.kubernetes.io/name': 'redis' },
    };
    const problems = networkPolicyProblems(objects, 'monitoring').join('\n');
    expect(problems).toMatch(/too-open lets something other than Prometheus reach runner-/);
    expect(problems).toMatch(/valkey-ingress selects no pods/);
  });

  it('runner memory: the benchmarked heap cap, young generation and malloc arenas in every runner', () => {
    for (const v of variants) expect(runnerMemoryProblems(v.objects), v.name).toEqual([]);
    const objects = clone(overlay().objects);
    const hybrid = deployment(objects, 'runner-hybrid').pod.containers[0]!;
    hybrid.env = hybrid.env!.filter((e) => e.name !== 'MALLOC_ARENA_MAX');
    hybrid.env.find((e) => e.name === 'NODE_OPTIONS')!.value = '--max-old-space-size=1536';
    const problems = runnerMemoryProblems(objects).join('\n');
    expect(problems).toMatch(/runner-hybrid: MALLOC_ARENA_MAX is not set/);
    expect(problems).toMatch(/runner-hybrid: heap cap 1536 MiB leaves under half of the 2Gi limit/);
    expect(problems).toMatch(/runner-hybrid: memory settings differ/);
  });

  it('scaling, disruption budgets, drain grace and coordinator spread', () => {
    for (const v of variants) expect(scalingAndDisruptionProblems(v.objects), v.name).toEqual([]);
    const objects = clone(variants.find((v) => v.name.endsWith('+keda'))!.objects);
    deployment(objects, 'runner-hybrid').pod.terminationGracePeriodSeconds = 60;
    deployment(objects, 'coordinator').pod.topologySpreadConstraints = [];
    const hpa = clone(byKind(overlay().objects, 'HorizontalPodAutoscaler')[0]!);
    objects.push(hpa);
    const so = named(objects, 'ScaledObject', 'runner-notification')!;
    (
      so.spec as { triggers: { type: string; metadata: Record<string, string> }[] }
    ).triggers[0]!.metadata.taskQueue = 'botburrow-low';
    const problems = scalingAndDisruptionProblems(objects).join('\n');
    expect(problems).not.toMatch(/authenticationRef/);
    expect(problems).toMatch(/runner-hybrid: terminationGracePeriodSeconds 60 ≤ shutdown grace 60/);
    expect(problems).toMatch(/coordinator: replicas are not spread across nodes/);
    expect(problems).toMatch(/is scaled by both/);
    expect(problems).toMatch(/ScaledObject\/runner-notification watches botburrow-low/);
  });

  it('KEDA with an API key: every temporal trigger authenticates with TEMPORAL_API_KEY of the Secret', () => {
    const objects = clone(variants.find((v) => v.name.endsWith('+keda-temporal-api-key'))!.objects);
    const so = named(objects, 'ScaledObject', 'runner-hybrid')!;
    const triggers = (so.spec as { triggers: { type: string; authenticationRef?: unknown }[] }).triggers;
    expect(triggers.filter((t) => t.type === 'temporal' && t.authenticationRef)).toHaveLength(3);
    // A trigger added without the patch, and a key that is not a setting, are caught.
    delete triggers[2]!.authenticationRef;
    const auth = named(objects, 'TriggerAuthentication', 'temporal-api-key')!;
    (auth.spec as { secretTargetRef: { key: string }[] }).secretTargetRef[0]!.key = 'TEMPORAL_CLOUD_KEY';
    const problems = scalingAndDisruptionProblems(objects).join('\n');
    expect(problems).toMatch(/ScaledObject\/runner-hybrid botburrow-low: no authenticationRef/);
    expect(problems).toMatch(/TEMPORAL_CLOUD_KEY is not in botburrow-agents-secrets/);
  });

  it('pods meet Pod Security "restricted" (the namespace enforces it)', () => {
    for (const v of variants) expect(podSecurityProblems(v.objects), v.name).toEqual([]);
    expect(podSecurityProblems(handAppliedManifests())).toEqual([]);
    const ns = byKind(overlay().objects, 'Namespace')[0]!;
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const objects = clone(overlay().objects);
    delete deployment(objects, 'skill-sync').pod.containers[0]!.securityContext;
    expect(podSecurityProblems(objects).join('\n')).toMatch(
      /skill-sync skill-sync: allowPrivilegeEscalation/,
    );
  });

  it('workflow bundle: runners load it, and only processes whose workflows it holds use it', () => {
    const exported = bundleExports();
    expect(exported.has(ACTIVATION_WORKFLOW)).toBe(true);
    for (const v of variants) expect(bundleProblems(v.objects, exported), v.name).toEqual([]);
    const objects = clone(overlay().objects);
    deployment(objects, 'skill-sync').pod.containers[0]!.env!.push({
      name: 'BOTBURROW_WORKFLOW_BUNDLE',
      value: '/app/dist/workflow-bundle.js',
    });
    const runner = deployment(objects, 'runner-exploration').pod.containers[0]!;
    runner.env = runner.env!.filter((e) => e.name !== 'BOTBURROW_WORKFLOW_BUNDLE');
    const problems = bundleProblems(objects, new Set([ACTIVATION_WORKFLOW])).join('\n');
    expect(problems).toMatch(
      /skill-sync: the bundle \/app\/dist\/workflow-bundle.js does not contain skillSyncWorkflow/,
    );
    expect(problems).toMatch(/runner-exploration: no BOTBURROW_WORKFLOW_BUNDLE/);
  });

  it('the search-attribute Job registers exactly the contract attributes', () => {
    for (const v of variants)
      expect(jobSearchAttributes(v.objects).sort(), v.name).toEqual(
        [...SEARCH_ATTRIBUTE_REGISTRATIONS].sort(),
      );
    const job = byKind(overlay().objects, 'Job')[0]!;
    expect(workloads([job])[0]!.pod.containers[0]!.image).toMatch(/^temporalio\/admin-tools:/);
  });

  it('valkey persists with the append-only file on a PersistentVolume and has probes', () => {
    const objects = overlay().objects;
    const sts = named(objects, 'StatefulSet', 'valkey')!;
    const spec = sts.spec as { volumeClaimTemplates: { metadata: { name: string } }[] };
    expect(spec.volumeClaimTemplates.map((t) => t.metadata.name)).toEqual(['data']);
    const pod = workloads([sts])[0]!.pod;
    const c = pod.containers[0]!;
    expect(c.readinessProbe).toBeDefined();
    expect(c.livenessProbe).toBeDefined();
    const conf = byKind(objects, 'ConfigMap').find((o) => o.metadata.name.startsWith('valkey-config'))!;
    const text = (conf.data as Record<string, string>)['valkey.conf']!;
    expect(text).toMatch(/^appendonly yes$/m);
    expect(text).toMatch(/^maxmemory-policy noeviction$/m);
    expect(text).toMatch(/^dir \/data$/m);
    // The restore helper (k8s/ops/) mounts the claim the StatefulSet creates: <template>-<name>-0.
    const restore = workloads(handAppliedManifests()).find((w) => w.obj.metadata.name === 'valkey-restore')!;
    const claim = restore.pod.volumes?.find((v) => v.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
    expect(claim).toBe(`${spec.volumeClaimTemplates[0]!.metadata.name}-${sts.metadata.name}-0`);
    const url = loadSettings(
      containerEnv(deployment(objects, 'coordinator').pod.containers[0]!, objects).surely,
    );
    expect(new URL(url.redisUrl).hostname).toBe(named(objects, 'Service', 'valkey')!.metadata.name);
  });

  it('valkey requires a login: the ACL file comes from the Secret, each process logs in as its own user', () => {
    for (const v of variants) {
      const objects = v.objects;
      const conf = byKind(objects, 'ConfigMap').find((o) => o.metadata.name.startsWith('valkey-config'))!;
      const data = conf.data as Record<string, string>;
      const aclFile = /^aclfile (\S+)$/m.exec(data['valkey.conf']!)?.[1];
      expect(aclFile, v.name).toBe('/run/valkey-acl/users.acl');
      expect(data['valkey-acl.sh']).toBe(fs.readFileSync(path.join(K8S, 'base/valkey-acl.sh'), 'utf8'));
      const pod = workloads([named(objects, 'StatefulSet', 'valkey')!])[0]!.pod;
      const init = pod.initContainers?.find((c) => c.name === 'valkey-acl');
      expect(init?.command?.join(' ')).toBe(`sh /etc/valkey/valkey-acl.sh ${aclFile}`);
      expect(init?.env?.map((e) => [e.name, e.valueFrom?.secretKeyRef?.key])).toEqual(
        VALKEY_ROLE_KEYS.map((k) => [k, k]),
      );
      // The file lives in memory, readable by the server; nothing else mounts it.
      const acl = pod.volumes?.find((vol) => vol.name === 'acl');
      expect(acl?.emptyDir?.medium).toBe('Memory');
      expect(pod.containers[0]!.volumeMounts?.find((m) => m.name === 'acl')?.mountPath).toBe(
        '/run/valkey-acl',
      );
      for (const { w, c, proc } of botburrowContainers(objects)) {
        const env = containerEnv(c, objects).surely;
        const user = c.env?.find((e) => e.name === 'BOTBURROW_REDIS_USERNAME')?.value;
        if (proc === 'skill-sync') {
          expect(user, w.obj.metadata.name).toBeUndefined();
          continue;
        }
        expect(user, w.obj.metadata.name).toBe(proc);
        expect('BOTBURROW_REDIS_PASSWORD' in env, w.obj.metadata.name).toBe(true);
        expect(new URL(env.BOTBURROW_REDIS_URL ?? 'redis://x').password, 'no password in the URL').toBe('');
      }
    }
  });

  it('valkey login: a runner given the coordinator password is caught', () => {
    const objects = clone(overlay().objects);
    const runner = deployment(objects, 'runner-hybrid').pod.containers[0]!;
    const password = runner.env!.find((e) => e.name === 'BOTBURROW_REDIS_PASSWORD')!;
    password.valueFrom!.secretKeyRef!.key = 'VALKEY_COORDINATOR_PASSWORD';
    expect(envNameProblems(objects).join('\n')).toMatch(
      /runner-hybrid: env BOTBURROW_REDIS_PASSWORD from botburrow-agents-secrets\/VALKEY_COORDINATOR_PASSWORD/,
    );
  });
});
