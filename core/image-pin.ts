/**
 * The image pin: `docker-compose.override.yml`, which both compose v1 and v2
 * read by default next to docker-compose.yml, naming literally the image each
 * service runs after an upgrade. Drydock's own compose runs pass IMAGE_TAG in
 * the process environment; a person who later runs a plain `docker-compose
 * up -d` has no such variable (and a registered tenant's `.env`, which
 * drydock never writes, may name an old tag), so without the pin a Quick
 * Upgrade would silently revert. Drydock removes the pin before it pulls (so
 * its own runs resolve images from the compose file and IMAGE_TAG as before)
 * and writes it again once the services run. Pure.
 */
import { SERVICE_NAME_RE } from './validation.js';

export const PIN_PATH = 'docker-compose.override.yml';
/** The compose file the pin sits beside; its version line is repeated in the pin. */
export const COMPOSE_PATH = 'docker-compose.yml';

const IMAGE_REF_RE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]*$/;

/**
 * The pin's text. Compose v1 refuses to merge files of different `version`s,
 * so the pin repeats the compose file's own version line when it has one.
 */
export function renderImagePin(composeText: string | null, images: { service: string; imageRef: string }[]): string {
  const version = composeText ? /^version:[ \t]*(.+?)[ \t]*$/m.exec(composeText)?.[1] : undefined;
  const lines = [
    '# Managed by drydock: the images of the last upgrade, so that a plain',
    '# `docker-compose up -d` here starts them, not the ones an older IMAGE_TAG names.',
    '# Rewritten by every upgrade; do not edit.',
  ];
  if (version) lines.push(`version: ${version}`);
  lines.push('services:');
  for (const { service, imageRef } of [...images].sort((a, b) => (a.service < b.service ? -1 : 1))) {
    if (!SERVICE_NAME_RE.test(service)) throw new Error(`image pin: ${JSON.stringify(service)} is not a service name`);
    if (!IMAGE_REF_RE.test(imageRef)) throw new Error(`image pin: the image of ${service}, ${JSON.stringify(imageRef)}, is not an image reference`);
    lines.push(`  ${service}:`, `    image: ${imageRef}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The service -> image entries of a pin drydock wrote (what renderImagePin writes, read back). */
export function pinEntries(pin: string): { service: string; imageRef: string }[] {
  return [...pin.matchAll(/^  ([A-Za-z0-9][A-Za-z0-9_.-]*):\n    image: (\S+)$/gm)].map((m) => ({ service: m[1]!, imageRef: m[2]! }));
}

/**
 * The pin after an upgrade: the images the services' containers run now.
 * With the `current` pin (a Quick Upgrade merges), the services not looked at
 * keep the image it names. null when no container runs an image: nothing to pin.
 */
export function nextImagePin(running: { service: string; imageRef?: string }[], current: string | null, composeText: string | null): string | null {
  const images = running.filter((s) => s.imageRef).map((s) => ({ service: s.service, imageRef: s.imageRef! }));
  if (current) for (const e of pinEntries(current)) if (!images.some((i) => i.service === e.service)) images.push(e);
  return images.length > 0 ? renderImagePin(composeText, images) : null;
}
