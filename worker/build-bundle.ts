import { writeBundle } from './bundle.js';

const file = await writeBundle();
console.log(`workflow bundle written to ${file}`);
