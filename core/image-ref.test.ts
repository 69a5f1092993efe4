import { describe, expect, it } from 'vitest';
import { parseImageRef } from './image-ref.js';

describe('image references', () => {
  it.each([
    ['app:1.2', 'app', '1.2'],
    ['app', 'app', 'latest'],
    ['127.0.0.1:5055/drydock/api:2.0', '127.0.0.1:5055/drydock/api', '2.0'],
    ['127.0.0.1:5055/drydock/api', '127.0.0.1:5055/drydock/api', 'latest'],
  ])('reads %s as repository %s with tag %s (a registry port is not a tag)', (ref, repo, tag) => {
    expect(parseImageRef(ref)).toEqual({ repo, tag });
  });
});
