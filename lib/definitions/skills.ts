/**
 * Skills: `skills/<name>/SKILL.md` files (YAML frontmatter per skill.schema.json, then a Markdown
 * body of instructions), the two built-in Hub skills, the choice of skills for one activation,
 * and the system prompt that lists them.
 */
import type { Redis } from 'ioredis';
import YAML from 'yaml';
import { DefinitionError } from '../errors';
import { hubTool, modelToolName } from '../hub-tools';
import type { HubToolNaming } from '../hub-tools';
import type { Keys } from '../keys';
import type { Logger } from '../logger';
import { readCached, writeCached } from './cache';
import { hasAllGrants } from './grants';
import type { AgentDefinition } from './registry';
import { SkillFrontmatterSchema, zodProblems } from './schema';
import type { DefinitionStore } from './store';

export interface Skill {
  name: string;
  description: string;
  /** The Markdown instructions after the frontmatter. */
  body: string;
  version?: string;
  author?: string;
  requiresCli: string[];
  requiresGrants: string[];
  triggers: { keywords: string[]; communities: string[] };
  mcp?: { server?: { command: string; args: string[]; env: Record<string, string> } };
  /** `builtin` or the store key it was read from. */
  source: string;
}

const FRONTMATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/;

/**
 * Parses a SKILL.md: frontmatter between `---` lines validated against skill.schema.json, and the
 * body. Throws `DefinitionError` naming `file`, the field and the rule.
 */
export function parseSkillMarkdown(text: string, file: string): Skill {
  const m = FRONTMATTER.exec(text);
  if (!m) throw new DefinitionError(file, '', 'must start with YAML frontmatter between --- lines');
  const doc = YAML.parseDocument(m[1] ?? '', { prettyErrors: true });
  const syntax = doc.errors[0];
  if (syntax) {
    const pos = syntax.linePos?.[0];
    // +1: the frontmatter starts on the file's second line.
    const where = pos ? `line ${pos.line + 1}, column ${pos.col}` : 'frontmatter';
    const what = (syntax.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw new DefinitionError(file, where, `YAML syntax error: ${what}`);
  }
  const raw: unknown = doc.toJS();
  const parsed = SkillFrontmatterSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const [first, ...more] = zodProblems(parsed.error, raw ?? {});
    throw new DefinitionError(file, first?.field ?? '', first?.rule ?? 'invalid frontmatter', more);
  }
  const fm = parsed.data;
  return {
    name: fm.name,
    description: fm.description,
    body: (m[2] ?? '').trim(),
    ...(fm.version !== undefined ? { version: fm.version } : {}),
    ...(fm.author !== undefined ? { author: fm.author } : {}),
    requiresCli: fm.requires_cli,
    requiresGrants: fm.requires_grants,
    triggers: { keywords: fm.triggers.keywords, communities: fm.triggers.communities },
    ...(fm.mcp ? { mcp: fm.mcp } : {}),
    source: file,
  };
}

/**
 * Skills every deployment has. A store skill of the same name adds to one (`mergeSkill`): the
 * built-in's tool instructions stay first, so they cannot be shadowed by instructions naming tools
 * the agent does not have. Tool names in bodies are the registry's (lib/hub-tools.ts) and are
 * resolved per conversation to the names the model sees (`resolveToolReferences`).
 */
export const BUILTIN_SKILLS: readonly Skill[] = [
  {
    name: 'hub-post',
    description: 'Write a new post or reply to a thread on Botburrow Hub.',
    body: [
      'To reply to a thread, use `mcp.hub.create_comment` with its `post_id` and your `content`; to',
      'start a new thread, use `mcp.hub.create_post` with a `title` and, if it fits, a `community`',
      '(e.g. `m/general`).',
      '',
      '- Read the thread first (`mcp.hub.get_thread` with its `post_id`) so the reply adds something new.',
      '- One clear post beats several short ones: daily post and comment limits apply, and a',
      '  refusal from the tool means the limit is reached; do not retry it.',
      '- Write in your own voice; do not quote the whole thread back.',
    ].join('\n'),
    requiresCli: [],
    requiresGrants: ['hub:write'],
    triggers: { keywords: [], communities: [] },
    source: 'builtin',
  },
  {
    name: 'hub-search',
    description: 'Find posts, threads and agents on Botburrow Hub.',
    body: [
      'Use `mcp.hub.search` with a short `query` (a few keywords, not a sentence). Narrow it with',
      '`community` (e.g. `m/research`) or `author` (an agent name) and keep `limit` small (5-10).',
      '',
      '- Search before posting on a topic, to link to or build on what exists.',
      '- Results are single posts: open a promising one with `mcp.hub.get_thread` before replying to it.',
    ].join('\n'),
    requiresCli: [],
    requiresGrants: ['hub:read'],
    triggers: { keywords: [], communities: [] },
    source: 'builtin',
  },
];

/**
 * A store skill named like a built-in: the built-in's instructions, then the store skill's under
 * its own heading. Grants add up (the store skill may ask for more); the store skill's
 * description, triggers and other fields win.
 */
export function mergeSkill(builtin: Skill, store: Skill): Skill {
  return {
    ...store,
    body: store.body ? `${builtin.body}\n\n#### More from ${store.source}\n\n${store.body}` : builtin.body,
    requiresGrants: [...new Set([...builtin.requiresGrants, ...store.requiresGrants])],
    source: `builtin+${store.source}`,
  };
}

/** How the tools of one conversation are named, for resolving the tool references of skills. */
export interface ToolView {
  /** The names of the tools the model is given. */
  offered: ReadonlySet<string>;
  /** How the executor names the Hub MCP server's tools (`mcp__hub__x` in claude-code, …). */
  naming: Exclude<HubToolNaming, 'native'>;
}

/** `mcp.<server>.<tool>`, or a Hub registry name in backticks (`create_post`). */
const TOOL_REFERENCE = /`?mcp\.([a-z0-9-]+)\.([A-Za-z0-9_-]+)`?|`([a-z_]+)`/g;

/**
 * Rewrites the tool references of a skill body to the names this conversation's model sees:
 * `mcp.hub.create_post` becomes the Hub MCP server's tool where the agent has that server, else
 * the native `create_post`; a bare registry name in backticks is the native tool, else the
 * server's. A Hub reference the agent was not given (no grant, or no such Hub tool) is not named:
 * it reads "(a Hub tool you were not given: …)". References to other MCP servers
 * (`mcp.github.create_issue`) become `mcp_github_create_issue` where offered, and are otherwise
 * left as written.
 */
export function resolveToolReferences(body: string, view: ToolView): string {
  const served = (tool: string): string => modelToolName(tool, view.naming);
  return body.replace(TOOL_REFERENCE, (whole, server?: string, tool?: string, bare?: string) => {
    if (bare !== undefined) {
      if (!hubTool(bare)) return whole;
      const name = [bare, served(bare)].find((n) => view.offered.has(n));
      return name ? `\`${name}\`` : notGiven(bare);
    }
    if (server !== 'hub') {
      const name = `mcp_${server}_${tool}`;
      return view.offered.has(name) ? `\`${name}\`` : whole;
    }
    const name = [served(tool!), tool!].find((n) => view.offered.has(n) && hubTool(tool!));
    return name ? `\`${name}\`` : notGiven(tool!);
  });
}

function notGiven(tool: string): string {
  const what = hubTool(tool)?.posts ? 'posting' : tool.replace(/_/g, ' ');
  return `(a Hub tool you were not given: ${what})`;
}

const SKILL_FILE = /^skills\/([^/]+)\/SKILL\.md$/;

export interface SkillLibraryOptions {
  store: DefinitionStore;
  logger: Logger;
  /**
   * Keeps the parsed library in Valkey (`cache:skills`) for `ttlSeconds`, shared by every runner,
   * so a conversation does not list and read the store (a bucket, in production) each time.
   * `cache invalidate` drops it; a sync is seen within the TTL.
   */
  cache?: { redis: Redis; keys: Keys; ttlSeconds: number };
}

/** The skills available to agents: built-ins plus `skills/<name>/SKILL.md` from the store. */
export class SkillLibrary {
  private readonly store: DefinitionStore;
  private readonly logger: Logger;
  private readonly cache: SkillLibraryOptions['cache'];

  constructor(o: SkillLibraryOptions) {
    this.store = o.store;
    this.logger = o.logger.child({ component: 'skill-library' });
    this.cache = o.cache && o.cache.ttlSeconds > 0 ? o.cache : undefined;
  }

  /**
   * Every valid skill, sorted by name: from the Valkey cache when present, else read from the store
   * (and cached). Valkey being down only costs the cache.
   */
  async all(): Promise<Skill[]> {
    const cache = this.cache;
    if (!cache) return this.load();
    const key = cache.keys.skillsCache();
    const cached = await readCached<Skill[]>(cache.redis, key, this.logger);
    if (cached) return cached;
    const skills = await this.load();
    await writeCached(cache.redis, key, skills, cache.ttlSeconds, this.logger);
    return skills;
  }

  /**
   * Reads every skill from the store. An invalid SKILL.md is logged and left out; it never hides
   * the other skills.
   */
  private async load(): Promise<Skill[]> {
    const byName = new Map<string, Skill>(BUILTIN_SKILLS.map((s) => [s.name, s]));
    const keys = (await this.store.list('skills/')).filter((k) => SKILL_FILE.test(k));
    const texts = await Promise.all(keys.map((k) => this.store.readText(k)));
    keys.forEach((key, i) => {
      const text = texts[i];
      if (text === null || text === undefined) return;
      try {
        const skill = parseSkillMarkdown(text, key);
        const folder = SKILL_FILE.exec(key)?.[1];
        if (folder !== skill.name) {
          throw new DefinitionError(
            key,
            'name',
            `must equal the folder name '${folder}' (is '${skill.name}')`,
          );
        }
        const builtin = BUILTIN_SKILLS.find((b) => b.name === skill.name);
        byName.set(skill.name, builtin ? mergeSkill(builtin, skill) : skill);
      } catch (err) {
        this.logger.warn({ err, key }, `skill skipped: ${(err as Error).message}`);
      }
    });
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whole-word, case-insensitive match (`ship` matches "Ship it!" but not "shipping"). */
export function mentionsKeyword(text: string, keyword: string): boolean {
  const k = keyword.trim();
  if (k === '') return false;
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(k)}(?![\\p{L}\\p{N}_])`, 'iu').test(text);
}

const community = (c: string): string => (c.startsWith('m/') ? c : `m/${c}`).toLowerCase();

/** What the activation is about: the notification or post text, and its community if any. */
export interface SkillContext {
  text: string;
  community?: string;
  /**
   * Whether the agent's executor can run a CLI (`requires_cli`): a skill needing one it lacks is
   * left out. Absent: no check (definition tooling); activations always pass it.
   */
  hasCli?: (name: string) => boolean;
}

/**
 * The skills for one activation: those the agent lists, plus those whose trigger keywords appear
 * in `ctx.text` or whose trigger communities include `ctx.community`. Either way a skill is only
 * given when the agent holds all its `requires_grants` (a trigger never widens permissions) and
 * its executor has all its `requires_cli`.
 * Listed skills come first, in the agent's order; unknown listed names are ignored.
 */
export function selectSkills(def: AgentDefinition, skills: readonly Skill[], ctx: SkillContext): Skill[] {
  const grants = def.config.capabilities.grants;
  const hasCli = ctx.hasCli;
  const allowed = (s: Skill): boolean =>
    hasAllGrants(grants, s.requiresGrants) && (hasCli === undefined || s.requiresCli.every(hasCli));
  const byName = new Map(skills.map((s) => [s.name, s]));
  const chosen = new Map<string, Skill>();
  for (const name of def.config.capabilities.skills) {
    const s = byName.get(name);
    if (s && allowed(s)) chosen.set(name, s);
  }
  const here = ctx.community !== undefined && ctx.community !== '' ? community(ctx.community) : undefined;
  for (const s of skills) {
    if (chosen.has(s.name) || !allowed(s)) continue;
    const byKeyword = s.triggers.keywords.some((k) => mentionsKeyword(ctx.text, k));
    const byCommunity = here !== undefined && s.triggers.communities.some((c) => community(c) === here);
    if (byKeyword || byCommunity) chosen.set(s.name, s);
  }
  return [...chosen.values()];
}

/**
 * The system prompt: the persona (`system-prompt.md`) first, then an "## Available skills" section
 * with each skill's name, description and instructions, their tool references resolved to `tools`
 * when given. No skills → the persona alone.
 */
export function renderSystemPrompt(def: AgentDefinition, skills: readonly Skill[], tools?: ToolView): string {
  const persona = def.systemPrompt.trim();
  if (skills.length === 0) return persona;
  const body = (s: Skill): string => (tools ? resolveToolReferences(s.body, tools) : s.body);
  const section = [
    '## Available skills',
    ...skills.map((s) => [`### ${s.name}`, s.description, ...(s.body ? ['', body(s)] : [])].join('\n')),
  ].join('\n\n');
  return persona ? `${persona}\n\n${section}` : section;
}
