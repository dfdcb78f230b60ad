/**
 * Agent definitions and skills: formats, stores, the cached registry, grants and prompt building.
 * Node-only (YAML, S3, Valkey); workflow code may import `./grants` directly (pure).
 */
export { AGENT_TYPES, AgentConfigSchema, SkillFrontmatterSchema, formatPath, zodProblems } from './schema';
export type {
  AgentConfig,
  AgentType,
  BehaviorLimitsConfig,
  FieldProblem,
  McpServerConfig,
  ShellConfig,
  SkillFrontmatter,
} from './schema';
export {
  CLI_AGENT_TYPES,
  RUNNABLE_AGENT_TYPES,
  assertRunnableAgentType,
  isRunnableAgentType,
  parseAgentConfig,
} from './config';
export {
  LocalDefinitionStore,
  S3DefinitionStore,
  checkKey,
  createDefinitionStore,
  createS3Client,
  listAllKeys,
  listAllObjects,
  parseS3Url,
  readS3Text,
  s3ClientFromSettings,
} from './store';
export type { DefinitionStore, S3StoreOptions } from './store';
export {
  AgentRegistry,
  checkAgentId,
  checkAllDefinitions,
  configKey,
  listAgentIds,
  loadAgentDefinition,
  promptKey,
} from './registry';
export type { AgentDefinition, AgentRegistryOptions, DefinitionCheck } from './registry';
export { validateStore } from './validate';
export type { ValidationProblem, ValidationReport } from './validate';
export { hasAllGrants, hasGrant } from './grants';
export {
  BUILTIN_SKILLS,
  SkillLibrary,
  mentionsKeyword,
  mergeSkill,
  parseSkillMarkdown,
  renderSystemPrompt,
  resolveToolReferences,
  selectSkills,
} from './skills';
export type { Skill, SkillContext, SkillLibraryOptions, ToolView } from './skills';
export { CACHE_INVALIDATE_PATH, cacheInvalidateRoute } from './http';
