import { describe, expect, it } from 'vitest';
import { nextImagePin, pinEntries, renderImagePin } from './image-pin.js';

describe('the image pin', () => {
  it('names each service image literally, sorted, under the compose file’s own version', () => {
    expect(renderImagePin("version: '2.4'\nservices: {}\n", [
      { service: 'web', imageRef: 'r.example/web:1.1.0' },
      { service: 'api', imageRef: 'r.example/api:1.1.0' },
    ])).toBe(
      [
        '# Managed by drydock: the images of the last upgrade, so that a plain',
        '# `docker-compose up -d` here starts them, not the ones an older IMAGE_TAG names.',
        '# Rewritten by every upgrade; do not edit.',
        "version: '2.4'",
        'services:',
        '  api:',
        '    image: r.example/api:1.1.0',
        '  web:',
        '    image: r.example/web:1.1.0',
        '',
      ].join('\n'),
    );
  });

  it('reads its own entries back', () => {
    const images = [{ service: 'api', imageRef: 'r.example/api:1' }, { service: 'media-api', imageRef: 'r.example/media-api@sha256:ab' }];
    expect(pinEntries(renderImagePin("version: '2.4'\n", images))).toEqual(images);
  });

  it('leaves the version out when the compose file has none (compose v2 style)', () => {
    expect(renderImagePin('services: {}\n', [{ service: 'web', imageRef: 'web:1' }])).not.toMatch(/^version:/m);
  });

  it('refuses what would break the YAML: a service or image reference with spaces, quotes or newlines', () => {
    expect(() => renderImagePin(null, [{ service: 'web\n  evil', imageRef: 'web:1' }])).toThrow(/not a service name/);
    expect(() => renderImagePin(null, [{ service: 'web', imageRef: 'web:1\n  privileged: true' }])).toThrow(/not an image reference/);
  });

  it("after an upgrade pins what the containers run, keeps the current pin's other services when merging, and pins nothing when no container runs an image", () => {
    const current = renderImagePin(null, [
      { service: 'api', imageRef: 'reg/api:1' },
      { service: 'web', imageRef: 'reg/web:1' },
    ]);
    const running = [
      { service: 'api', imageRef: 'reg/api:2' },
      { service: 'worker' },
    ];
    expect(pinEntries(nextImagePin(running, current, "version: '2.4'\n")!)).toEqual([
      { service: 'api', imageRef: 'reg/api:2' },
      { service: 'web', imageRef: 'reg/web:1' },
    ]);
    expect(nextImagePin(running, current, "version: '2.4'\n")).toContain("version: '2.4'");
    expect(pinEntries(nextImagePin(running, null, null)!)).toEqual([{ service: 'api', imageRef: 'reg/api:2' }]);
    expect(nextImagePin([{ service: 'worker' }], null, null)).toBeNull();
  });
});
