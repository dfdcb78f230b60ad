/**
 * The settings file of the local run (`.data/local-run.env`): `./scripts/start.sh` writes where its
 * Temporal, Valkey (with its password) and definitions are; the CLI reads it when the environment
 * names none of them, so `botburrow …` works against a running local run with no setup.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LOCAL_RUN_FILE = 'local-run.env';

/**
 * The variables that point the CLI somewhere. When any of them is set, the environment is
 * deliberate and the file is ignored as a whole: mixing a production Temporal with the local
 * Valkey would be worse than either.
 */
export const LOCAL_RUN_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'BOTBURROW_REDIS_URL',
  'BOTBURROW_DEFINITIONS_STORE',
  'BOTBURROW_AGENT_DEFINITIONS_PATH',
] as const;

type Env = Record<string, string | undefined>;

/** The folder of the local run's data: `BOTBURROW_LOCAL_DATA_DIR`, else `.data` in `cwd`. */
export function localDataDir(env: Env, cwd: string): string {
  const dir = env.BOTBURROW_LOCAL_DATA_DIR;
  return dir !== undefined && dir !== '' ? path.resolve(cwd, dir) : path.join(cwd, '.data');
}

/** `KEY=value` lines (no quoting: values are addresses and paths without newlines). */
export function formatEnvFile(vars: Record<string, string>): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
}

/** Parses `KEY=value` lines; blank lines and `#` comments are skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    const i = t.indexOf('=');
    if (i > 0) out[t.slice(0, i)] = t.slice(i + 1);
  }
  return out;
}

/** Writes the local run's settings file, readable by its owner only (it holds the Valkey password). */
export function writeLocalRunFile(dataDir: string, vars: Record<string, string>): string {
  const file = path.join(dataDir, LOCAL_RUN_FILE);
  fs.writeFileSync(file, `# written by scripts/local-run.ts; removed when it stops\n${formatEnvFile(vars)}`, {
    mode: 0o600,
  });
  fs.chmodSync(file, 0o600);
  return file;
}

/**
 * The CLI's environment: `env` itself when it names any of LOCAL_RUN_VARIABLES or there is no
 * local run file, else the file's settings under `env`. `file` says which file was used.
 */
export function withLocalRunSettings(
  env: Env,
  cwd: string,
  read: (file: string) => string | undefined = readIfExists,
): { env: Env; file?: string } {
  if (LOCAL_RUN_VARIABLES.some((k) => env[k] !== undefined && env[k] !== '')) return { env };
  const file = path.join(localDataDir(env, cwd), LOCAL_RUN_FILE);
  const text = read(file);
  if (text === undefined) return { env };
  return { env: { ...parseEnvFile(text), ...env }, file };
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * What to add when a command that ran on the local run's settings could not reach Temporal (exit
 * 4) or Valkey (exit 5): the file is left behind when the local run was killed.
 */
export function localRunHint(exitCode: number, file: string | undefined): string | undefined {
  if (file === undefined || (exitCode !== 4 && exitCode !== 5)) return undefined;
  return `(settings from ${file}, written by ./scripts/start.sh: is the local run still running?)`;
}
