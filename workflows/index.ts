export { imageUpgrade } from './image-upgrade.js';
export { releaseUpgrade } from './release-upgrade.js';
export { progressQuery } from './progress.js';
