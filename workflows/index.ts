export { imageUpgrade } from './image-upgrade.js';
export { progressQuery } from './progress.js';
