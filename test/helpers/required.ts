// A server a test needs that does not answer: locally the test is skipped with the reason, in CI
// (CI=true, as .ci/run runs) it fails, so a missing server can never turn the suite green.
import type { TestContext } from 'vitest';

/** Skips (locally) or fails (in CI) a test whose server is `unavailable` (the reason). */
export function needServer(ctx: TestContext, unavailable: string): never {
  if (process.env['CI'] === 'true' || process.env['CI'] === '1') {
    throw new Error(`a server this test requires does not answer (CI requires Redis, MariaDB, PostgreSQL and Cassandra): ${unavailable}`);
  }
  return ctx.skip(unavailable);
}
