import { TestSentinel } from './helpers/redis-sentinel.ts';
const s = new TestSentinel();
await s.start();
const c = s.client();
for (let i = 0; i < 5; i++) { await c.hincrby('k', 'age', 1); const t = performance.now(); const r = await c.call('WAIT', 1, 100); console.log('WAIT ->', r, (performance.now() - t).toFixed(1), 'ms'); }
console.log(await c.info('replication'));
c.disconnect();
await s.stop();
process.exit(0);
