#!/usr/bin/env -S node --max-semi-space-size=8
// The smaller young generation keeps the resident set under ~200 MB through bursts (npm run bench).
// Thin shim: run the TypeScript sources directly (tsx), so no build step is needed after `npm ci`.
import { register } from 'tsx/esm/api';

register();
await import('../runtime/main.ts');
