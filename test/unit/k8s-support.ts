/**
 * Helpers for the k8s manifest tests: render every overlay (and every overlay with every optional
 * component) with kustomize, validate objects against the Kubernetes API schemas offline
 * (kubernetes-models), and small accessors the cross-checks share.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ts from 'typescript';
import { parseAllDocuments, parseDocument } from 'yaml';

export const ROOT = path.resolve(__dirname, '../..');
export const K8S = path.join(ROOT, 'k8s');

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface Variant {
  /** e.g. `apexalgo-iad` or `apexalgo-iad+keda`. */
  name: string;
  objects: K8sObject[];
}

function readToolsEnv(): Record<string, string> {
  const file = path.join(ROOT, '.tools/env');
  const out: Record<string, string> = {};
  if (!fs.existsSync(file)) return out;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

function onPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const full = path.join(dir, cmd);
    try {
      fs.accessSync(full, fs.constants.X_OK);
      return full;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The kustomize to use: `kubectl kustomize` when kubectl exists, else the provisioned binary. */
export function kustomizeCommand(): { cmd: string; args: string[] } {
  const kubectl = process.env.KUBECTL_PATH ?? onPath('kubectl');
  if (kubectl) return { cmd: kubectl, args: ['kustomize'] };
  const kustomize = process.env.KUSTOMIZE_PATH ?? readToolsEnv().KUSTOMIZE_PATH ?? onPath('kustomize');
  if (kustomize && fs.existsSync(kustomize)) return { cmd: kustomize, args: ['build'] };
  throw new Error(
    'neither kubectl nor kustomize found: run scripts/provision.sh (it installs kustomize into .tools/go/bin)',
  );
}

/** Path of a provisioned tool: environment, then .tools/env, then PATH. */
export function toolPath(envName: string, command: string): string | undefined {
  const fromEnv = process.env[envName] ?? readToolsEnv()[envName];
  if (fromEnv && fs.existsSync(fromEnv)) return fromEnv;
  return onPath(command);
}

/** Parses a multi-document YAML stream into objects (empty documents dropped). */
export function parseManifests(text: string, source: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    out.push(value as K8sObject);
  }
  return out;
}

/** Renders one kustomization directory and parses the result. */
export function render(dir: string): K8sObject[] {
  const { cmd, args } = kustomizeCommand();
  const text = execFileSync(cmd, [...args, dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseManifests(text, dir);
}

function kustomizationKind(dir: string): string | undefined {
  const file = ['kustomization.yaml', 'kustomization.yml'].map((f) => path.join(dir, f)).find(fs.existsSync);
  if (!file) return undefined;
  const doc = parseAllDocuments(fs.readFileSync(file, 'utf8'))[0]?.toJS() as { kind?: string } | undefined;
  return doc?.kind ?? 'Kustomization';
}

/** Overlays: directories directly under k8s/ with a Kustomization, except the base. */
export function overlayNames(): string[] {
  return fs
    .readdirSync(K8S, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'base' && d.name !== 'components')
    .filter((d) => kustomizationKind(path.join(K8S, d.name)) === 'Kustomization')
    .map((d) => d.name)
    .sort();
}

/** Optional components under k8s/components/. */
export function componentNames(): string[] {
  const dir = path.join(K8S, 'components');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && kustomizationKind(path.join(dir, d.name)) === 'Component')
    .map((d) => d.name)
    .sort();
}

/**
 * Every overlay as it is, and every overlay with each optional component enabled the way an
 * operator enables it: listed under `components:` of the overlay's own kustomization (so the
 * overlay's namespace and images apply to it). Built in a temporary copy of k8s/.
 */
export function renderVariants(): Variant[] {
  const variants: Variant[] = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'botburrow-k8s-'));
  try {
    const copy = path.join(tmp, 'k8s');
    fs.cpSync(K8S, copy, { recursive: true });
    for (const overlay of overlayNames()) {
      variants.push({ name: overlay, objects: render(path.join(K8S, overlay)) });
      for (const component of componentNames()) {
        const dir = path.join(copy, `${overlay}+${component}`);
        fs.cpSync(path.join(copy, overlay), dir, { recursive: true });
        const file = path.join(dir, 'kustomization.yaml');
        const doc = parseDocument(fs.readFileSync(file, 'utf8'));
        const listed = (doc.get('components') as { items?: unknown[] } | undefined)?.items?.length ?? 0;
        if (listed === 0) doc.set('components', [`../components/${component}`]);
        else doc.addIn(['components'], `../components/${component}`);
        fs.writeFileSync(file, doc.toString());
        variants.push({ name: `${overlay}+${component}`, objects: render(dir) });
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return variants;
}

/** Manifests applied by hand (k8s/secrets/ templates, k8s/ops/ helpers), validated like the rest. */
export function handAppliedManifests(): K8sObject[] {
  return ['secrets', 'ops'].flatMap((sub) => {
    const dir = path.join(K8S, sub);
    if (!fs.existsSync(dir)) return [];
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort()
      .flatMap((f) => parseManifests(fs.readFileSync(path.join(dir, f), 'utf8'), `${sub}/${f}`));
  });
}

// ---------------------------------------------------------------------------------------------
// Schema validation

/** The kubernetes-models module that holds the types of an apiVersion. */
export function modelModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  if (group === '') return `kubernetes-models/${version}`;
  if (group === 'keda.sh') return `@kubernetes-models/keda/keda.sh/${version}`;
  if (group === 'external-secrets.io')
    return `@kubernetes-models/external-secrets/external-secrets.io/${version}`;
  if (group === 'monitoring.coreos.com') {
    return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}`;
  }
  return `kubernetes-models/${group}/${version}`;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/**
 * Validates one object with the JSON schema of its kind (types, required fields, enums, formats).
 * Returns the problems, empty when valid.
 */
export async function schemaProblems(obj: K8sObject): Promise<string[]> {
  const where = `${obj.kind}/${obj.metadata?.name ?? '?'}`;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModule(obj.apiVersion))) as Record<string, unknown>;
  } catch {
    return [`${where}: no schema for apiVersion ${obj.apiVersion}`];
  }
  const Model = mod[obj.kind] as ModelClass | undefined;
  if (typeof Model !== 'function') return [`${where}: no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    const details = (err as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (details?.length) return details.map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? ''}`);
    return [`${where}: ${(err as Error).message}`];
  }
}

/**
 * The JSON schemas accept unknown fields (a typo like `replica:` would pass), so every object is
 * also checked against the models' TypeScript types, where an object literal with a field the type
 * does not declare is an error. Returns one line per problem.
 */
export function unknownFieldProblems(objects: K8sObject[]): string[] {
  // One import line and one literal per object; `starts` maps a diagnostic's line to its object.
  const text = objects
    .map((obj, i) => {
      const alias = `M${i}`;
      return [
        `import type * as ${alias} from ${JSON.stringify(modelModule(obj.apiVersion))};`,
        `export const o${i}: ${alias}.I${obj.kind} = ${JSON.stringify(obj, null, 1)};`,
      ].join('\n');
    })
    .join('\n');
  const starts: { line: number; where: string }[] = [];
  let line = 0;
  for (const obj of objects) {
    starts.push({ line, where: `${obj.kind}/${obj.metadata.name}` });
    line += 1 + JSON.stringify(obj, null, 1).split('\n').length;
  }
  const file = path.join(ROOT, '__k8s_manifests__.ts');
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === file ? ts.createSourceFile(name, text, lang) : getSourceFile(name, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  const source = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, source).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n').slice(-1)[0]!;
    if (d.start === undefined) return message;
    const { line: at } = source.getLineAndCharacterOfPosition(d.start);
    const owner = [...starts].reverse().find((s) => s.line <= at);
    const snippet = text.split('\n')[at]?.trim() ?? '';
    return `${owner?.where ?? '?'}: ${message} (at ${snippet})`;
  });
}

// ---------------------------------------------------------------------------------------------
// Accessors

export type PodSpec = {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  securityContext?: Record<string, unknown>;
  topologySpreadConstraints?: { topologyKey: string; labelSelector?: LabelSelector }[];
  volumes?: {
    name: string;
    secret?: { secretName: string };
    configMap?: { name: string };
    persistentVolumeClaim?: { claimName: string };
    emptyDir?: { medium?: string; sizeLimit?: string };
  }[];
};
export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
  }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
export interface Probe {
  httpGet?: { path: string; port: number | string };
  tcpSocket?: { port: number | string };
  exec?: { command: string[] };
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface Workload {
  obj: K8sObject;
  podLabels: Record<string, string>;
  pod: PodSpec;
}

/** Deployments, StatefulSets and Jobs with their pod templates, and bare Pods. */
export function workloads(objects: K8sObject[]): Workload[] {
  const out: Workload[] = [];
  for (const obj of objects) {
    if (obj.kind === 'Pod') {
      out.push({ obj, podLabels: obj.metadata.labels ?? {}, pod: obj.spec as PodSpec });
    } else if (['Deployment', 'StatefulSet', 'Job'].includes(obj.kind)) {
      const template = (
        obj.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } }
      ).template;
      out.push({ obj, podLabels: template.metadata?.labels ?? {}, pod: template.spec });
    }
  }
  return out;
}

/** Kubernetes label-selector semantics (matchLabels AND matchExpressions). */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    if (e.operator === 'In' && !(has && (e.values ?? []).includes(value!))) return false;
    if (e.operator === 'NotIn' && has && (e.values ?? []).includes(value!)) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

/** The objects of one kind. */
export function byKind(objects: K8sObject[], kind: string): K8sObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The object of a kind and name, if present. */
export function named(objects: K8sObject[], kind: string, name: string): K8sObject | undefined {
  return objects.find((o) => o.kind === kind && o.metadata.name === name);
}
