#!/usr/bin/env node
// Thin shim: run the TypeScript sources directly (tsx), so no build step is needed after `npm ci`.
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
