export { fullUpgrade } from './full-upgrade.js';
export { imageUpgrade } from './image-upgrade.js';
export { releaseUpgrade } from './release-upgrade.js';
