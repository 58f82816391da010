// Rewrites the generated part of docs/conversions.md (everything after "## The rules") from the
// spec in runtime/connectors/conversions.ts. Run: npm run docs:conversions
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConversionDocs } from '../runtime/connectors/conversions.ts';

const file = new URL('../docs/conversions.md', import.meta.url);
const marker = '## The rules\n\n';
const doc = readFileSync(file, 'utf8');
const at = doc.indexOf(marker);
if (at < 0) throw new Error(`docs/conversions.md has no '${marker.trim()}' heading`);
writeFileSync(file, `${doc.slice(0, at + marker.length)}${renderConversionDocs()}`);
process.stdout.write('docs/conversions.md rendered\n');
