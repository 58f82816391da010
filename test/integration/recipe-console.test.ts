import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MYSQL, TestEnv } from '../helpers/env.ts';
import { startRuntime, type RuntimeProcess } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

describe("a recipe's console.log", () => {
  const env = new TestEnv();
  let rt: RuntimeProcess;

  beforeAll(async () => {
    await env.createTable();
    await env.tuneCredentials();
    rt = await startRuntime(env.runtimeArgs());
  });

  afterAll(async () => {
    await rt.stop();
    await env.close();
  });

  it('is a JSON log line of the runtime with the recipe name, at the top level and in a credential function; upload prints it on stderr', async () => {
    const file = join(env.dir, 'chatty.ts');
    writeFileSync(file, `import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';
console.log('hello from the top level', { a: 1 });
const user = () => {
  console.log('hello from the credential', { a: 1 });
  console.error('and an error line');
  return configGet('MySqlUser');
};
const connection = new MySqlConnection(user, () => configGet('MySqlPassword'), '${MYSQL.host}:${MYSQL.port}/${MYSQL.database}');
export default writeBehind({ name: '${env.name}', version: '1', connector: new MySqlConnector(connection, '${env.table}', 'id'), keysPrefix: '${env.prefix}', mappings: { first_name: 'first' } });
`);
    const up = await env.upload(file, rt);

    await env.redis.hset(`${env.prefix}:1`, 'first_name', 'Ann');
    await waitFor('row 1', () => env.row('1'));
    await waitFor('the credential log line', () => rt.hasLog((r) => String(r['msg']).startsWith('hello from the credential')));

    const records = rt.stdoutLines.map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`a line of the runtime's stdout is not JSON: ${line}`);
      }
    });
    expect(records.find((r) => r['msg'] === 'hello from the top level { a: 1 }')).toMatchObject({ level: 30, recipe: env.name });
    expect(records.find((r) => r['msg'] === 'hello from the credential { a: 1 }')).toMatchObject({ level: 30, recipe: env.name });
    expect(records.find((r) => r['msg'] === 'and an error line')).toMatchObject({ level: 50, recipe: env.name });
    // wb-cli evaluated it too (and ran the credential function for its key check): on stderr.
    expect(up.stdout).not.toContain('hello');
    expect(up.stderr).toContain('hello from the top level { a: 1 }\n');
  });
});
