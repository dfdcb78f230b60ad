/**
 * The CLI executors a runner has, by agent type (lib/definitions CLI_AGENT_TYPES). A new one is a
 * file implementing `CliExecutor` plus its line here and its type in CLI_AGENT_TYPES.
 */
import type { CLI_AGENT_TYPES } from '../../lib/definitions';
import { aiderExecutor } from './aider';
import { claudeCodeExecutor } from './claude-code';
import { opencodeExecutor } from './opencode';
import type { CliExecutor } from './types';

export function cliExecutors(): Record<(typeof CLI_AGENT_TYPES)[number], CliExecutor> {
  return { 'claude-code': claudeCodeExecutor(), opencode: opencodeExecutor(), aider: aiderExecutor() };
}

export { createCliActivities } from './cli-activity';
export type { CliActivities, CliActivityDeps } from './cli-activity';
export type { CliExecutor, CliRunContext, CliRunSummary } from './types';
