export { fullUpgrade } from './full-upgrade.js';
export { imageUpgrade } from './image-upgrade.js';
export { releaseUpgrade } from './release-upgrade.js';
export { fleetRollout } from './fleet-rollout.js';
export { agentWatch, notificationDelivery } from './notifications.js';
export { driftCheck } from './drift-check.js';
