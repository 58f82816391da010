#!/usr/bin/env -S node --max-semi-space-size=8
// The smaller young generation keeps the resident set low through bursts (npm run bench).
// Thin shim: the TypeScript sources run as one esbuild bundle built at start (see launch.js), so
// no build step is needed after `npm ci` and the long-running process carries no TS loader.
import { launch } from './launch.js';

await launch('runtime/main.ts');
