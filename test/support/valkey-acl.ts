/**
 * The Valkey users of `k8s/base/valkey-acl.sh`, rendered by that very script, so the suite's
 * Valkey authenticates exactly as the one in Kubernetes does.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export const VALKEY_ROLES = ['coordinator', 'runner', 'operator'] as const;
export type ValkeyRole = (typeof VALKEY_ROLES)[number];

const SCRIPT = path.resolve(__dirname, '../../k8s/base/valkey-acl.sh');

/** `VALKEY_RUNNER_PASSWORD` for `runner`, as in the Secret. */
export function passwordVariable(role: ValkeyRole): string {
  return `VALKEY_${role.toUpperCase()}_PASSWORD`;
}

/** Fresh random passwords, one per role. */
export function randomPasswords(): Record<ValkeyRole, string> {
  return Object.fromEntries(VALKEY_ROLES.map((r) => [r, randomBytes(18).toString('hex')])) as Record<
    ValkeyRole,
    string
  >;
}

/** Runs the k8s script with `env` (role password variables) and writes the ACL file to `out`. */
export function renderValkeyAcl(out: string, env: Record<string, string>): void {
  execFileSync('sh', [SCRIPT, out], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The role passwords as the script's environment. */
export function passwordEnv(passwords: Record<ValkeyRole, string>): Record<string, string> {
  return Object.fromEntries(VALKEY_ROLES.map((r) => [passwordVariable(r), passwords[r]]));
}

/** `redis://runner:pw@127.0.0.1:port`. */
export function roleUrl(url: string, role: ValkeyRole, password: string): string {
  const u = new URL(url);
  u.username = role;
  u.password = password;
  return u.toString().replace(/\/$/, '');
}
