/**
 * Runs the scripted model server (Messages API and Chat Completions) standalone (local runs, benchmarks):
 *
 *   npx tsx dev/model-server/main.ts [--port 4010] [--script file.yaml] [--delay-ms 2000] [--instant] [--api-key k] [--quiet]
 *
 * Point the runner at it with ANTHROPIC_BASE_URL=http://127.0.0.1:4010 and any ANTHROPIC_API_KEY;
 * OPENAI_BASE_URL=http://127.0.0.1:4010/v1 and GEMINI_BASE_URL=http://127.0.0.1:4010/v1beta/openai for
 * openai and google brains (Chat Completions, with any OPENAI_API_KEY / GEMINI_API_KEY).
 */
import { parseArgs } from 'node:util';
import { ScenarioError } from './scenario';
import { createModelServer } from './server';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.MODEL_SERVER_PORT ?? '4010' },
      host: { type: 'string', default: '127.0.0.1' },
      script: { type: 'string' },
      'delay-ms': { type: 'string' },
      instant: { type: 'boolean', default: false },
      'api-key': { type: 'string' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ScenarioError(`--port: expected an integer between 0 and 65535, got ${values.port}`);
  }
  const delay = values['delay-ms'] === undefined ? undefined : Number(values['delay-ms']);
  if (delay !== undefined && !(Number.isInteger(delay) && delay >= 0)) {
    throw new ScenarioError(`--delay-ms: expected an integer ≥ 0, got ${values['delay-ms']}`);
  }
  const server = await createModelServer({
    port,
    host: values.host,
    ...(values.script !== undefined && { script: values.script }),
    ...(delay !== undefined && { defaultDelayMs: delay }),
    instant: values.instant,
    ...(values['api-key'] !== undefined && { apiKey: values['api-key'] }),
    ...(!values.quiet && { log: (line: string) => console.log(`${new Date().toISOString()} ${line}`) }),
  });
  console.log(`scripted model server on ${server.url} (script: ${server.script().name ?? 'unnamed'})`);
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`model-server: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof ScenarioError ? 78 : 1);
});
