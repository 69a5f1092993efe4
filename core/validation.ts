/**
 * Grammars for names that end up on command lines or in workflow IDs. Kept as
 * plain regexes (no zod) so workflow code and the agent can use them too.
 */

/**
 * The common name of the control plane's client certificate; agents accept no
 * other caller. Never a tenant slug: an agent certificate with this name
 * would pass for the control plane with every other agent.
 */
export const CONTROL_PLANE_CN = 'drydock-control-plane';

/** A lowercase DNS label (RFC 1123): what slugs and compose project names must be; never the control plane's own name. */
export const SLUG_RE = /^(?!drydock-control-plane$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
export const SLUG_RULE = `a lowercase DNS label: 1-63 of a-z, 0-9 and "-", starting and ending with a letter or digit, and not ${CONTROL_PLANE_CN}`;

/**
 * Display names (instances, agents): no control characters (C0, DEL, C1) and
 * no Unicode line or paragraph separators, which break the one-line places a
 * name is written to (log lines, rendered files, previews).
 */
export const DISPLAY_NAME_FORBIDDEN_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
export const DISPLAY_NAME_RULE = 'must not contain control characters or line/paragraph separators (U+2028, U+2029)';

/** Docker's tag grammar: [\w][\w.-]{0,127}. */
export const IMAGE_TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const IMAGE_TAG_RULE = 'a Docker tag: up to 128 of letters, digits, "_", "." and "-", not starting with "." or "-"';

/** Compose service names: [a-zA-Z0-9][a-zA-Z0-9_.-]+ (the compose spec's pattern). */
export const SERVICE_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
export const SERVICE_NAME_RULE = 'a compose service name: letters, digits, "_", "." and "-", starting with a letter or digit';

/** Compose project names: lowercase letters, digits, "-" and "_", starting with a letter or digit. */
export const PROJECT_NAME_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const PROJECT_NAME_RULE = 'a compose project name: lowercase letters, digits, "-" and "_", starting with a letter or digit';

export const DEFAULT_CORE_SERVICES = ['api', 'admin', 'media-api', 'nginx'] as const;
