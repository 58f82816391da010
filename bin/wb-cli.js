#!/usr/bin/env node
// Thin shim: the CLI is compiled JavaScript in dist/ (built by `npm run build`, which `prepare` runs).
import { run } from './run.js';

await run('wb-cli', '../dist/cli/main.js');
