/**
 * Exit codes and the one error type of the operator CLI. Every failure a command can foresee is a
 * `CliError` carrying its exit code and a message that says what to do next; anything else is a
 * bug and exits with 1 after printing its stack.
 */
import type { ActivationOutcome } from '../lib/contract';

export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  temporalUnreachable: 4,
  valkeyUnreachable: 5,
  /** `activation run`: the activation was still running when `--timeout` passed. */
  stillRunning: 6,
  /** A malformed environment variable (as every botburrow process: EX_CONFIG). */
  config: 78,
} as const;

/** `activation run` exit codes per outcome: 0 when the agent did its work, else one code each. */
export const OUTCOME_EXIT_CODES: Record<ActivationOutcome, number> = {
  succeeded: 0,
  iteration_cap: 0,
  failed: 10,
  cancelled: 11,
  budget_exceeded: 12,
  circuit_open: 13,
  timed_out: 14,
};

/** A failure the CLI reports with `message` on stderr and `exitCode`. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly exitCode: number,
    message: string,
    /** For usage errors: the usage text of the command to print after the message. */
    readonly usage?: string,
  ) {
    super(message);
  }
}

/** A command-line mistake: exit 2, with the command's usage. */
export function usageError(message: string, usage?: string): CliError {
  return new CliError(ExitCode.usage, message, usage);
}
