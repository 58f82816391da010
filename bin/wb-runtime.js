#!/usr/bin/env node
// Thin shim: the runtime is compiled JavaScript in dist/. Its memory tuning lives in the entry
// itself (dist/runtime/main.js), so `node dist/runtime/main.js` under a supervisor behaves the same.
import { run } from './run.js';

await run('wb-runtime', '../dist/runtime/main.js');
