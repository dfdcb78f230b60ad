/**
 * Typed settings, read once from the environment by each process entry point.
 *
 * Every variable the code reads is declared in `SETTINGS` below, with its default and the form it
 * expects. A malformed value stops the process with one line that names the variable and the
 * expected form (see `SettingsError`). The k8s manifests are cross-checked against this table.
 */

import type { AgentPriorityOverrides } from './priority';

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

type Env = Record<string, string | undefined>;

interface Parser<T> {
  /** Human description of the expected form, used in error messages. */
  readonly form: string;
  parse(raw: string): T | undefined;
}

const str: Parser<string> = {
  form: 'a non-empty string',
  parse: (raw) => (raw.length > 0 ? raw : undefined),
};

const int = (min = 0, max = Number.MAX_SAFE_INTEGER): Parser<number> => ({
  form: `an integer between ${min} and ${max}`,
  parse(raw) {
    if (!/^-?\d+$/.test(raw.trim())) return undefined;
    const n = Number(raw);
    return n >= min && n <= max ? n : undefined;
  },
});

const num = (min = 0): Parser<number> => ({
  form: `a number ≥ ${min}`,
  parse(raw) {
    if (raw.trim() === '') return undefined;
    const n = Number(raw);
    return Number.isFinite(n) && n >= min ? n : undefined;
  },
});

const bool: Parser<boolean> = {
  form: 'true or false',
  parse(raw) {
    const v = raw.trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
    return undefined;
  },
};

const url = (protocols: string[]): Parser<string> => ({
  form: `a URL (${protocols.map((p) => `${p}//…`).join(' or ')})`,
  parse(raw) {
    try {
      const u = new URL(raw);
      return protocols.includes(u.protocol) ? raw.replace(/\/+$/, '') : undefined;
    } catch {
      return undefined;
    }
  },
});

const oneOf = <T extends string>(...values: T[]): Parser<T> => ({
  form: `one of ${values.join(', ')}`,
  parse: (raw) => ((values as string[]).includes(raw.trim()) ? (raw.trim() as T) : undefined),
});

const hostPort: Parser<string> = {
  form: 'host:port (e.g. localhost:7233)',
  parse: (raw) => (/^[^\s:/]+:\d{1,5}$/.test(raw.trim()) ? raw.trim() : undefined),
};

const json = <T>(form: string, check: (v: unknown) => v is T): Parser<T> => ({
  form,
  parse(raw) {
    try {
      const v: unknown = JSON.parse(raw);
      return check(v) ? v : undefined;
    } catch {
      return undefined;
    }
  },
});

const isRecordOf =
  (inner: (v: unknown) => boolean) =>
  (v: unknown): v is Record<string, never> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every(inner);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface BudgetOverride {
  daily_tokens?: number;
  monthly_cost?: number;
}
export type PriceTable = Record<string, { input: number; output: number }>;

/** Providers with an OpenAI-compatible embeddings endpoint (memory's embedding_search). */
const EMBEDDING_PROVIDERS: readonly string[] = ['openai', 'google', 'local'];

/** `provider=model` entries (kept as a list so `.env.example` shows them as they are written). */
const embeddingModels: Parser<string[]> = {
  form: 'provider=model pairs separated by commas, providers openai, google, local (e.g. openai=text-embedding-3-small)',
  parse(raw) {
    const pairs = raw
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    const ok = pairs.every((p) => {
      const m = /^([a-z]+)=(\S+)$/.exec(p);
      return m !== null && EMBEDDING_PROVIDERS.includes(m[1]!);
    });
    return ok ? pairs : undefined;
  },
};

/** The embedding model `BOTBURROW_MEMORY_EMBEDDING_MODELS` names for `provider`, if any. */
export function embeddingModelOf(entries: readonly string[], provider: string): string | undefined {
  const hit = entries.find((e) => e.startsWith(`${provider}=`));
  return hit?.slice(provider.length + 1);
}

const budgetOverrides = json<Record<string, BudgetOverride>>(
  'JSON like {"agent-id":{"daily_tokens":50000,"monthly_cost":20}}',
  isRecordOf(
    (o) =>
      isObject(o) &&
      Object.entries(o).every(
        ([k, n]) => ['daily_tokens', 'monthly_cost'].includes(k) && typeof n === 'number' && n >= 0,
      ),
  ),
);

const agentPriority = json<AgentPriorityOverrides>(
  'JSON like {"agent-id":{"priority_key":1,"fairness_key":"team-a","fairness_weight":2}} (priority_key 1–5, fairness_weight 0.001–1000)',
  isRecordOf(
    (o) =>
      isObject(o) &&
      Object.entries(o).every(([k, v]) =>
        k === 'priority_key'
          ? Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 5
          : k === 'fairness_key'
            ? typeof v === 'string' && v.length > 0 && v.length <= 64
            : k === 'fairness_weight'
              ? typeof v === 'number' && v >= 0.001 && v <= 1000
              : false,
      ),
  ),
);

const priceTable = json<PriceTable>(
  'JSON like {"claude-sonnet-4":{"input":3,"output":15}} (USD per million tokens)',
  isRecordOf((o) => isObject(o) && typeof o.input === 'number' && typeof o.output === 'number'),
);

const price = json<{ input: number; output: number }>(
  'JSON like {"input":3,"output":15} (USD per million tokens)',
  (v): v is { input: number; output: number } =>
    isObject(v) &&
    typeof v.input === 'number' &&
    v.input >= 0 &&
    typeof v.output === 'number' &&
    v.output >= 0,
);

const list: Parser<string[]> = {
  form: 'a comma-separated list',
  parse: (raw) =>
    raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
};

/** One key of BOTBURROW_CODEC_KEYS: an id (stored with every payload) and 32 bytes, base64. */
export interface CodecKey {
  id: string;
  /** Base64 of the 32 key bytes, as written in the setting. */
  secret: string;
}

/**
 * Parses `id=base64,id=base64`: ids of letters, digits and `._-`, each key 32 bytes, ids unique.
 * Returns undefined on any malformed entry (the settings table reports the expected form).
 */
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

export function parseCodecKeys(raw: string): CodecKey[] | undefined {
  const keys: CodecKey[] = [];
  for (const entry of raw.split(',').map((s) => s.trim())) {
    const eq = entry.indexOf('=');
    if (eq <= 0) return undefined;
    const id = entry.slice(0, eq);
    const secret = entry.slice(eq + 1);
    if (!KEY_ID.test(id) || keys.some((k) => k.id === id)) return undefined;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(secret) || Buffer.from(secret, 'base64').length !== 32)
      return undefined;
    keys.push({ id, secret });
  }
  return keys.length > 0 ? keys : undefined;
}

const codecKeys: Parser<CodecKey[]> = {
  form: 'comma-separated id=base64 entries (32-byte keys, ids of letters, digits and ._-; the first encrypts)',
  parse: parseCodecKeys,
};

interface Spec<T> {
  readonly env: string;
  readonly parser: Parser<T>;
  readonly default?: T;
  readonly description: string;
  /** A secret: never logged, provided by the Secret rather than the ConfigMap in k8s. */
  readonly secret?: boolean;
}

function setting<T>(
  env: string,
  parser: Parser<T>,
  def: T,
  description: string,
  secret?: boolean,
): Spec<T> & { default: T };
function setting<T>(
  env: string,
  parser: Parser<T>,
  def: undefined,
  description: string,
  secret?: boolean,
): Spec<T>;
function setting<T>(
  env: string,
  parser: Parser<T>,
  def: T | undefined,
  description: string,
  secret = false,
): Spec<T> {
  return def === undefined
    ? { env, parser, description, secret }
    : { env, parser, default: def, description, secret };
}

/** Every setting the code reads. Names are part of the contract in DESIGN.md. */
export const SETTINGS = {
  // Temporal
  temporalAddress: setting('TEMPORAL_ADDRESS', hostPort, 'localhost:7233', 'Temporal frontend address'),
  temporalNamespace: setting('TEMPORAL_NAMESPACE', str, 'default', 'Temporal namespace'),
  temporalApiKey: setting('TEMPORAL_API_KEY', str, undefined, 'Temporal Cloud API key (implies TLS)', true),
  temporalTls: setting('TEMPORAL_TLS', bool, false, 'connect to Temporal with TLS'),
  temporalTlsCertPath: setting(
    'TEMPORAL_TLS_CLIENT_CERT_PATH',
    str,
    undefined,
    'mTLS client certificate file',
  ),
  temporalTlsKeyPath: setting('TEMPORAL_TLS_CLIENT_KEY_PATH', str, undefined, 'mTLS client key file'),
  temporalTlsCaPath: setting(
    'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    str,
    undefined,
    'CA certificate for the server',
  ),

  // Encrypted payloads (lib/codec.ts) and the codec server on the coordinator's ops server
  codecKeys: setting(
    'BOTBURROW_CODEC_KEYS',
    codecKeys,
    undefined,
    'payload encryption keys id=base64 (first encrypts, all decrypt); unset: payloads stay plain',
    true,
  ),
  codecToken: setting(
    'BOTBURROW_CODEC_TOKEN',
    str,
    undefined,
    "Bearer token for the codec server's /codec/decode and /codec/encode; unset: loopback clients only",
    true,
  ),
  codecCorsOrigins: setting(
    'BOTBURROW_CODEC_CORS_ORIGINS',
    list,
    ['http://localhost:8233', 'http://127.0.0.1:8233'],
    'Temporal UI origins allowed to call the codec server from the browser',
  ),

  // Hub
  hubUrl: setting(
    'BOTBURROW_HUB_URL',
    url(['http:', 'https:']),
    'http://localhost:8000',
    'Botburrow Hub base URL',
  ),
  hubApiKey: setting('BOTBURROW_HUB_API_KEY', str, undefined, 'Hub service key (Bearer)', true),
  hubAdminKey: setting(
    'BOTBURROW_HUB_ADMIN_KEY',
    str,
    undefined,
    'Hub admin key for agent registration',
    true,
  ),
  hubTimeout: setting('BOTBURROW_HUB_TIMEOUT', int(1, 600), 15, 'Hub request timeout (s)'),
  hubBudgetCheck: setting(
    'BOTBURROW_HUB_BUDGET_CHECK',
    oneOf('off', 'fail-open', 'fail-closed'),
    'off',
    "consult the Hub's budget-health before activations",
  ),

  // Valkey
  redisUrl: setting(
    'BOTBURROW_REDIS_URL',
    url(['redis:', 'rediss:']),
    'redis://localhost:6379',
    'Valkey URL',
  ),
  redisUsername: setting(
    'BOTBURROW_REDIS_USERNAME',
    str,
    undefined,
    'Valkey ACL user (k8s: coordinator or runner); overrides a user in the URL',
  ),
  redisPassword: setting(
    'BOTBURROW_REDIS_PASSWORD',
    str,
    undefined,
    'Valkey password of that user (or of the default user); overrides one in the URL',
    true,
  ),
  keyPrefix: setting(
    'BOTBURROW_KEY_PREFIX',
    str,
    undefined,
    'prefix for every Valkey key (tests, shared instances)',
  ),

  // Coordinator
  pollInterval: setting('BOTBURROW_POLL_INTERVAL', int(1, 3600), 30, 'Hub poll interval (s)'),
  pollBatchSize: setting('BOTBURROW_POLL_BATCH_SIZE', int(1, 1000), 100, 'agents per long-poll answer'),
  leaderTtl: setting('BOTBURROW_LEADER_TTL', int(3, 300), 15, 'leader lease TTL (s)'),
  agentPriority: setting(
    'BOTBURROW_AGENT_PRIORITY',
    agentPriority,
    {},
    'per-agent task-queue priority key, fairness key and fairness weight of its activations',
  ),
  minActivationInterval: setting(
    'BOTBURROW_MIN_ACTIVATION_INTERVAL',
    int(0),
    900,
    'staleness for exploration (s)',
  ),
  adminToken: setting('BOTBURROW_ADMIN_TOKEN', str, undefined, 'Bearer token for the admin endpoints', true),

  // Runner
  runnerMode: setting(
    'BOTBURROW_RUNNER_MODE',
    oneOf('notification', 'exploration', 'hybrid'),
    'hybrid',
    'queues to serve',
  ),
  activationTimeout: setting(
    'BOTBURROW_ACTIVATION_TIMEOUT',
    int(10, 86400),
    600,
    'activation time limit (s)',
  ),
  maxIterations: setting(
    'BOTBURROW_MAX_ITERATIONS',
    int(1, 50),
    10,
    'model calls per conversation (one notification, or one exploration) when the definition sets no behavior.max_iterations',
  ),
  mcpTimeout: setting('BOTBURROW_MCP_TIMEOUT', int(1, 3600), 30, 'MCP tool call timeout (s)'),
  mcpEnvAllowlist: setting(
    'BOTBURROW_MCP_ENV_ALLOWLIST',
    list,
    [],
    'runner variables custom MCP servers may reference as ${NAME} in their env',
  ),
  sandbox: setting(
    'BOTBURROW_SANDBOX',
    oneOf('bwrap', 'none'),
    'bwrap',
    'confinement of agent processes: bwrap (kernel namespaces), or none (development only, unconfined)',
  ),
  sandboxBwrapPath: setting(
    'BOTBURROW_SANDBOX_BWRAP',
    str,
    undefined,
    'bubblewrap binary (default: bwrap on PATH)',
  ),
  sandboxCpuSeconds: setting(
    'BOTBURROW_SANDBOX_CPU_SECONDS',
    int(1, 86400),
    300,
    'CPU seconds per sandboxed process (a Bash command gets at most its timeout)',
  ),
  sandboxMemoryMb: setting(
    'BOTBURROW_SANDBOX_MEMORY_MB',
    int(64, 1048576),
    2048,
    'memory (heap and private data) per sandboxed process (MiB)',
  ),
  sandboxMaxProcesses: setting(
    'BOTBURROW_SANDBOX_MAX_PROCESSES',
    int(4, 100000),
    128,
    'processes and threads inside one sandbox',
  ),
  sandboxMaxFileMb: setting(
    'BOTBURROW_SANDBOX_MAX_FILE_MB',
    int(1, 1048576),
    256,
    'largest file a sandboxed process may write (MiB)',
  ),
  maxConcurrentActivities: setting(
    'BOTBURROW_MAX_CONCURRENT_ACTIVITIES',
    int(1, 10000),
    1000,
    'activities in flight per worker (I/O-bound: 1000 model calls at once hold about 460 MiB of runner RSS with the k8s memory settings, bench/runner.ts)',
  ),
  maxConcurrentWorkflowTasks: setting(
    'BOTBURROW_MAX_CONCURRENT_WORKFLOW_TASKS',
    int(1, 10000),
    50,
    'workflow tasks per worker',
  ),
  maxCachedWorkflows: setting(
    'BOTBURROW_MAX_CACHED_WORKFLOWS',
    int(0, 100000),
    250,
    "sticky workflow cache size, split between the worker's task queues (about 0.3 MiB a cached run; a run waiting in a model call needs no cache entry, bench/runner.ts)",
  ),
  shutdownGrace: setting(
    'BOTBURROW_SHUTDOWN_GRACE',
    int(0, 3600),
    60,
    'grace for in-flight activities on SIGTERM (s)',
  ),
  workspaceRoot: setting(
    'BOTBURROW_WORKSPACE_ROOT',
    str,
    '/tmp/botburrow-workspaces',
    'per-activation workspaces',
  ),
  buildId: setting(
    'BOTBURROW_BUILD_ID',
    str,
    undefined,
    'worker deployment version of this runner (the image tag); set: activations are pinned to the version they started on',
  ),
  deploymentName: setting(
    'BOTBURROW_DEPLOYMENT_NAME',
    str,
    'botburrow-runner',
    'Temporal worker deployment the runners register their BOTBURROW_BUILD_ID under',
  ),
  workflowBundlePath: setting(
    'BOTBURROW_WORKFLOW_BUNDLE',
    str,
    undefined,
    'prebuilt workflow bundle (production); with OTEL_TRACES_EXPORTER set its -traced.js twin is loaded',
  ),

  // Budgets and guards
  dailyTokenLimit: setting('BOTBURROW_DAILY_TOKEN_LIMIT', int(0), 100000, 'tokens per agent per UTC day'),
  monthlyCostLimit: setting('BOTBURROW_MONTHLY_COST_LIMIT', num(0), 100.0, 'USD per agent per UTC month'),
  fleetMonthlyCostLimit: setting(
    'BOTBURROW_FLEET_MONTHLY_COST_LIMIT',
    num(0),
    undefined,
    'USD for all agents per month',
  ),
  budgetOverrides: setting('BOTBURROW_BUDGET_OVERRIDES', budgetOverrides, {}, 'per-agent budget overrides'),
  reservationTtl: setting(
    'BOTBURROW_RESERVATION_TTL',
    int(10, 86400),
    900,
    'expiry of an unsettled reservation (s)',
  ),
  breakerThreshold: setting(
    'BOTBURROW_BREAKER_THRESHOLD',
    int(1, 1000),
    5,
    'failures before the breaker opens',
  ),
  breakerBaseSeconds: setting(
    'BOTBURROW_BREAKER_BASE_SECONDS',
    int(1, 86400),
    60,
    'first breaker backoff (s)',
  ),
  breakerMaxSeconds: setting(
    'BOTBURROW_BREAKER_MAX_SECONDS',
    int(1, 604800),
    3600,
    'longest breaker backoff (s)',
  ),
  priceTable: setting('BOTBURROW_PRICE_TABLE', priceTable, {}, 'model prices overriding the built-in table'),

  // Agent definitions
  definitionsStore: setting(
    'BOTBURROW_DEFINITIONS_STORE',
    oneOf('local', 'r2'),
    'local',
    'where definitions live',
  ),
  definitionsPath: setting(
    'BOTBURROW_AGENT_DEFINITIONS_PATH',
    str,
    './definitions',
    'local definitions folder',
  ),
  r2Endpoint: setting('BOTBURROW_R2_ENDPOINT', url(['http:', 'https:']), undefined, 'S3/R2 endpoint'),
  r2Bucket: setting('BOTBURROW_R2_BUCKET', str, undefined, 'S3/R2 bucket'),
  r2Prefix: setting('BOTBURROW_R2_PREFIX', str, undefined, 'key prefix inside the bucket'),
  r2Region: setting('BOTBURROW_R2_REGION', str, 'auto', 'S3 region (auto for R2)'),
  r2AccessKeyId: setting('BOTBURROW_R2_ACCESS_KEY_ID', str, undefined, 'S3/R2 access key id', true),
  r2SecretAccessKey: setting('BOTBURROW_R2_SECRET_ACCESS_KEY', str, undefined, 'S3/R2 secret key', true),
  skillsCacheTtl: setting(
    'BOTBURROW_SKILLS_CACHE_TTL',
    int(0, 86400),
    60,
    'skills cached in Valkey (s); 0 reads the store for every conversation',
  ),
  skillSyncSources: setting(
    'BOTBURROW_SKILL_SYNC_SOURCES',
    list,
    [],
    'skill sources: folders or s3://bucket/prefix',
  ),
  skillSyncInterval: setting(
    'BOTBURROW_SKILL_SYNC_INTERVAL',
    int(60, 604800),
    3600,
    'skill sync schedule interval (s)',
  ),

  // Model and tool credentials (runner only; never passed into workflows)
  anthropicApiKey: setting('ANTHROPIC_API_KEY', str, undefined, 'Anthropic API key', true),
  anthropicBaseUrl: setting(
    'ANTHROPIC_BASE_URL',
    url(['http:', 'https:']),
    undefined,
    'Messages API base URL for provider anthropic (wins over brain.api_base)',
  ),

  // Model providers (brain.provider, brain.api_base, brain.api_key_env; runner only)
  modelKeyEnvs: setting(
    'BOTBURROW_MODEL_KEY_ENVS',
    list,
    ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY'],
    'runner variables holding model keys that a brain.api_key_env may name; any other name is refused',
  ),
  modelApiHosts: setting(
    'BOTBURROW_MODEL_API_HOSTS',
    list,
    [
      'api.anthropic.com',
      'api.openai.com',
      'generativelanguage.googleapis.com',
      'localhost',
      '127.0.0.1',
      '::1',
    ],
    'hosts a brain.api_base may point at (https; plain http on loopback, or on an entry written http://host)',
  ),
  openaiBaseUrl: setting(
    'OPENAI_BASE_URL',
    url(['http:', 'https:']),
    undefined,
    'Chat Completions base URL for provider openai (wins over brain.api_base)',
  ),
  geminiBaseUrl: setting(
    'GEMINI_BASE_URL',
    url(['http:', 'https:']),
    undefined,
    "Gemini's OpenAI-compatible base URL for provider google (wins over brain.api_base)",
  ),
  unknownModelPrice: setting(
    'BOTBURROW_UNKNOWN_MODEL_PRICE',
    price,
    { input: 3, output: 15 },
    'price of a model no table knows (USD per million tokens; logged once per model)',
  ),
  memoryEmbeddingModels: setting(
    'BOTBURROW_MEMORY_EMBEDDING_MODELS',
    embeddingModels,
    ['openai=text-embedding-3-small', 'google=gemini-embedding-001', 'local=nomic-embed-text'],
    "embedding model per provider for memory's embedding_search (anthropic has none: keyword instead)",
  ),
  memoryEmbeddingTimeout: setting(
    'BOTBURROW_MEMORY_EMBEDDING_TIMEOUT',
    int(1, 300),
    10,
    'timeout of one embeddings call (s); a failed query embedding falls back to keyword retrieval',
  ),
  memoryVectorCacheMb: setting(
    'BOTBURROW_MEMORY_VECTOR_CACHE_MB',
    int(0, 1048576),
    256,
    'memory vectors a runner mirrors for embedding_search, across agents (MiB; least recently used agents dropped)',
  ),
  githubPat: setting('GITHUB_PAT', str, undefined, 'GitHub token for the github MCP server', true),
  braveApiKey: setting('BRAVE_API_KEY', str, undefined, 'Brave Search key for the brave MCP server', true),
  postgresUrl: setting(
    'BOTBURROW_POSTGRES_URL',
    str,
    undefined,
    'database for the postgres MCP server',
    true,
  ),

  // Observability
  logLevel: setting(
    'BOTBURROW_LOG_LEVEL',
    oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal'),
    'info',
    'log level',
  ),
  metricsPort: setting(
    'BOTBURROW_METRICS_PORT',
    int(0, 65535),
    undefined,
    'HTTP port for /metrics /health /ready',
  ),
  // Traces (lib/tracing.ts); the OTLP exporter reads the rest of OTEL_EXPORTER_OTLP_* itself.
  tracesExporter: setting(
    'OTEL_TRACES_EXPORTER',
    oneOf('none', 'otlp', 'console'),
    'none',
    'where traces go: none (off), otlp (OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT) or console',
  ),
  otlpEndpoint: setting(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    url(['http:', 'https:']),
    undefined,
    'OTLP/HTTP collector base URL (default http://localhost:4318)',
  ),
  otlpHeaders: setting(
    'OTEL_EXPORTER_OTLP_HEADERS',
    str,
    undefined,
    'headers for the OTLP exporter (key=value,…), e.g. a tracing backend API key',
    true,
  ),
  serviceName: setting(
    'OTEL_SERVICE_NAME',
    str,
    undefined,
    'service.name of exported spans (default botburrow-<process>)',
  ),
} as const;

type SettingsSpec = typeof SETTINGS;
type ValueOf<S> = S extends Spec<infer T> ? (S extends { default: unknown } ? T : T | undefined) : never;
export type Settings = { -readonly [K in keyof SettingsSpec]: ValueOf<SettingsSpec[K]> };

/** Environment variable names the code reads (for the manifest cross-check). */
export const SETTING_NAMES: readonly string[] = Object.values(SETTINGS).map((s) => s.env);

/**
 * Parses every setting from `env`. Throws `SettingsError` naming the first bad variable and the
 * expected form; `require` lists settings that have no default but must be present for this process.
 */
export function loadSettings(env: Env = process.env, require: readonly (keyof Settings)[] = []): Settings {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(SETTINGS) as [string, Spec<unknown>][]) {
    const raw = env[spec.env];
    if (raw === undefined || raw === '') {
      out[key] = spec.default;
      continue;
    }
    const value = spec.parser.parse(raw);
    if (value === undefined) {
      const shown = spec.secret ? '(hidden)' : JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);
      throw new SettingsError(`${spec.env}: expected ${spec.parser.form}, got ${shown}`);
    }
    out[key] = value;
  }
  for (const key of require) {
    if (out[key] === undefined) {
      const spec = SETTINGS[key] as Spec<unknown>;
      throw new SettingsError(`${spec.env} is required: ${spec.description} (${spec.parser.form})`);
    }
  }
  if (out.definitionsStore === 'r2' && (out.r2Endpoint === undefined || out.r2Bucket === undefined)) {
    throw new SettingsError(
      'BOTBURROW_DEFINITIONS_STORE=r2 needs BOTBURROW_R2_ENDPOINT and BOTBURROW_R2_BUCKET (or use BOTBURROW_DEFINITIONS_STORE=local)',
    );
  }
  return out as Settings;
}

/**
 * Every value of a setting marked secret, plus passwords inside URL settings (a Valkey or database
 * URL), so tool output, logs and errors can be scrubbed of them: a secret added to SETTINGS is
 * covered without a list to keep in step. Values in `extra` (runner variables handed to MCP
 * servers) are added too.
 */
export function secretSettingValues(settings: Settings, extra: readonly string[] = []): string[] {
  const out = new Set<string>(extra.filter((v) => v.length > 0));
  for (const [key, spec] of Object.entries(SETTINGS) as [keyof Settings, Spec<unknown>][]) {
    const value = settings[key];
    // Structured secrets (the codec keys) are scrubbed by each of their string parts.
    if (spec.secret && Array.isArray(value)) {
      for (const item of value as unknown[]) {
        for (const part of Object.values(item as Record<string, unknown>)) {
          if (typeof part === 'string' && part.length >= 8) out.add(part);
        }
      }
      continue;
    }
    if (typeof value !== 'string' || value.length === 0) continue;
    if (spec.secret) out.add(value);
    const pw = urlPassword(value);
    if (pw) out.add(pw);
  }
  return [...out];
}

/** The password inside a connection URL (`redis://u:pw@host`), which may surface alone in an error. */
export function urlPassword(value: string): string | undefined {
  try {
    return decodeURIComponent(new URL(value).password) || undefined;
  } catch {
    return undefined; // not a URL
  }
}

/**
 * Entry-point helper: loads settings or prints the one-line reason and exits with status 78 (config).
 */
export function loadSettingsOrExit(
  env: Env = process.env,
  require: readonly (keyof Settings)[] = [],
): Settings {
  try {
    return loadSettings(env, require);
  } catch (err) {
    if (err instanceof SettingsError) {
      process.stderr.write(`botburrow: configuration error: ${err.message}\n`);
      process.exit(78);
    }
    throw err;
  }
}
