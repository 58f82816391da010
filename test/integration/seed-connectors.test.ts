import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connector } from '../../recipes/options.ts';
import { HARNESSES } from '../conformance/harness/all.ts';
import type { HarnessTable } from '../conformance/harness/types.ts';
import { TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { needServer } from '../helpers/required.ts';

/** The seed recipe's connector lines for each database; everything else is the seed recipe verbatim. */
function connectorLines(c: Connector, params: Record<string, string>): string {
  const [user, password] = Object.keys(params);
  const creds = `() => configGet('${user}'), () => configGet('${password}')`;
  switch (c.kind) {
    case 'mysql':
      return `const connection = new MySqlConnection(${creds}, '${c.connection.describe()}');\nconst persons = new MySqlConnector(connection, '${c.table}', 'id');`;
    case 'postgres':
      return `const connection = new PostgresConnection(${creds}, '${c.connection.describe()}');\nconst persons = new PostgresConnector(connection, '${c.table}', 'id');`;
    case 'sqlite':
      return `const connection = new SqliteConnection('${c.connection.path}');\nconst persons = new SqliteConnector(connection, '${c.table}', 'id');`;
    case 'cassandra':
      return `const connection = new CassandraConnection(${creds}, '${c.connection.contactPoints.join(',')}', { localDataCenter: '${c.connection.localDataCenter}', keyspace: '${c.connection.keyspace}' });\nconst persons = new CassandraConnector(connection, '${c.table}', 'id');`;
    default:
      throw new Error(`no live server for ${c.kind}`);
  }
}

for (const harness of HARNESSES.filter((h) => h.name !== 'mysql')) {
  describe(`the seed recipe, unchanged but for the connector lines: ${harness.name}`, () => {
    const env = new TestEnv();
    let skip: string | undefined;
    let t: HarnessTable;
    let rt: RuntimeProcess;
    const row = async (id: string) => (await t.rows()).find((r) => r.id === id);

    beforeAll(async () => {
      skip = await harness.unavailable();
      if (skip) return;
      t = await harness.setup();
      if (Object.keys(t.params).length) await env.redis.hset(`${env.ns}:params`, t.params);
      const file = join(env.dir, `persons-${harness.name}.recipe.ts`);
      writeFileSync(file, `import { configGet, writeBehind, ${['MySql', 'Postgres', 'Sqlite', 'Cassandra'].flatMap((k) => [`${k}Connection`, `${k}Connector`]).join(', ')} } from 'wbsync';
${connectorLines(t.connector, { ...t.params })}
export default writeBehind({
  name: 'PersonsWriteBehind',
  version: '1',
  connector: persons,
  keysPrefix: '${env.prefix}',
  mappings: { first_name: 'first', last_name: 'last', age: 'age' },
});
`);
      rt = await startRuntime(env.runtimeArgs());
      const up = await env.upload(file, rt);
      expect(up.stdout).toContain('PersonsWriteBehind version 1 loaded');
    }, 120_000);

    afterAll(async () => {
      if (skip) return env.close();
      await rt.stop();
      await t.teardown();
      await env.close();
    });

    it('HSET, update, HDEL, DEL and an id with ":"', async (ctx) => {
      if (skip) return needServer(ctx, skip);
      await env.redis.hset(`${env.prefix}:5`, 'first_name', 'Marek', 'last_name', 'Michalski', 'age', '27');
      expect(await waitFor('row 5', () => row('5'))).toEqual({ id: '5', first: 'Marek', last: 'Michalski', age: '27', extra: null });
      await env.redis.hset(`${env.prefix}:5`, 'age', '28');
      await waitFor('age 28', async () => (await row('5'))?.age === '28');
      await env.redis.hdel(`${env.prefix}:5`, 'last_name');
      await waitFor('last NULL', async () => (await row('5'))?.last === null);
      await env.redis.hset(`${env.prefix}:a:b`, 'first_name', 'Ada');
      await waitFor('row a:b', () => row('a:b'));
      await env.redis.del(`${env.prefix}:5`);
      await waitFor('row 5 gone', async () => (await row('5')) === undefined);
      await env.redis.hset(`${env.prefix}:7`, 'age', 'notanumber');
      await waitFor('dead letter', async () => (await env.redis.xlen(`${env.ns}:dlq:PersonsWriteBehind`)) === 1);
      const [[, f]] = (await env.redis.xrange(`${env.ns}:dlq:PersonsWriteBehind`, '-', '+')) as [[string, string[]]];
      expect(f[f.indexOf('error') + 1]).toMatch(new RegExp(`^key '${env.prefix}:7': field 'age' .*column age \\(`));
    });
  });
}
