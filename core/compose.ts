/**
 * Compose command lines as data: pure functions that build argument arrays,
 * run with execFile (never a shell) and tested by exact comparison. Both
 * Compose v2 (`docker compose`) and v1 (`docker-compose`) are supported.
 */
export type ComposeVariant = 'v2' | 'v1';

export interface ComposeProject {
  variant: ComposeVariant;
  projectName: string;
  /** The directory holding docker-compose.yml and .env; commands run there. */
  dir: string;
}

export interface CommandLine {
  file: string;
  args: string[];
  cwd?: string;
  /** Added to the inherited environment; shell variables win over .env in compose. */
  env?: Record<string, string>;
}

function compose(p: ComposeProject, sub: string[], env?: Record<string, string>): CommandLine {
  const head = p.variant === 'v2' ? ['compose'] : [];
  const cmd: CommandLine = {
    file: p.variant === 'v2' ? 'docker' : 'docker-compose',
    args: [...head, '--ansi', 'never', '--project-name', p.projectName, ...sub],
    cwd: p.dir,
  };
  if (env && Object.keys(env).length > 0) cmd.env = env;
  return cmd;
}

/** The command that tells whether a variant is installed. */
export function composeVersionCommand(variant: ComposeVariant): CommandLine {
  return variant === 'v2'
    ? { file: 'docker', args: ['compose', 'version'] }
    : { file: 'docker-compose', args: ['version'] };
}

export function composeListServices(p: ComposeProject, env?: Record<string, string>): CommandLine {
  return compose(p, ['config', '--services'], env);
}

export function composeValidate(p: ComposeProject, env?: Record<string, string>): CommandLine {
  return compose(p, ['config', '--quiet'], env);
}

export function composePull(p: ComposeProject, services: string[], env?: Record<string, string>): CommandLine {
  return compose(p, ['pull', ...services], env);
}

/**
 * Recreate exactly these services. `--no-deps` matters: a broad `up -d`
 * cascades into infra containers whose configuration may have drifted.
 */
export function composeRecreate(p: ComposeProject, services: string[], env?: Record<string, string>): CommandLine {
  if (services.length === 0) throw new Error('composeRecreate needs at least one service');
  return compose(p, ['up', '-d', '--no-deps', '--force-recreate', ...services], env);
}

/** Bring every service up, recreating what changed (the full upgrade path); orphans go only when the release allows it. */
export function composeUpAll(p: ComposeProject, env?: Record<string, string>, removeOrphans = true): CommandLine {
  return compose(p, ['up', '-d', ...(removeOrphans ? ['--remove-orphans'] : [])], env);
}
