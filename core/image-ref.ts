/**
 * Docker image references, as compose files and the engine name them. A
 * colon after the last slash starts the tag (a colon before it is a registry
 * port); without one the tag is `latest`.
 */
export function parseImageRef(imageRef: string): { repo: string; tag: string } {
  const at = imageRef.lastIndexOf(':');
  const hasTag = at > imageRef.lastIndexOf('/');
  return { repo: hasTag ? imageRef.slice(0, at) : imageRef, tag: hasTag ? imageRef.slice(at + 1) : 'latest' };
}
