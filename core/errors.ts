/**
 * Typed errors shared by the API, the worker and the agent. The API's error
 * middleware maps each kind to one status code; nothing else decides codes.
 */
export type ErrorKind =
  | 'bad-request'
  | 'not-found'
  | 'conflict'
  | 'unavailable'
  | 'payload-too-large'
  | 'forbidden';

export class DrydockError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DrydockError';
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new DrydockError('bad-request', message, details);
export const forbidden = (message: string, details?: Record<string, unknown>) => new DrydockError('forbidden', message, details);
export const notFound = (message: string) => new DrydockError('not-found', message);
export const conflict = (message: string, details?: Record<string, unknown>) =>
  new DrydockError('conflict', message, details);

/** A dependency (database, Temporal, Docker engine, agent) could not be reached. */
export const unavailable = (dependency: string, detail: string) =>
  new DrydockError('unavailable', `${dependency} is unreachable: ${detail}`, { dependency });

/** The last lines of a command's output or a log, for error messages an operator reads. */
export function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
