// Smoke test for the node started by scripts/cassandra.sh:  node scripts/cassandra/smoke.mjs
// Creates keyspace wbtest (SimpleStrategy, RF 1) and a table, INSERTs and SELECTs one row, drops the keyspace.
import cassandra from 'cassandra-driver';

const client = new cassandra.Client({
  contactPoints: [process.env.CASSANDRA_CONTACT_POINT ?? '127.0.0.1:9142'],
  localDataCenter: 'datacenter1',
  authProvider: new cassandra.auth.PlainTextAuthProvider('cassandra', 'cassandra'),
});
await client.connect();
try {
  const local = (await client.execute('SELECT data_center, release_version FROM system.local')).first();
  await client.execute(
    "CREATE KEYSPACE IF NOT EXISTS wbtest WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  await client.execute('CREATE TABLE IF NOT EXISTS wbtest.smoke (id text PRIMARY KEY, name text, age int)');
  await client.execute('INSERT INTO wbtest.smoke (id, name, age) VALUES (?, ?, ?)', ['p1', 'Ada', 36], { prepare: true });
  const row = (await client.execute('SELECT name, age FROM wbtest.smoke WHERE id = ?', ['p1'], { prepare: true })).first();
  if (row?.name !== 'Ada' || row?.age !== 36) throw new Error(`unexpected row ${JSON.stringify(row)}`);
  await client.execute('DROP KEYSPACE wbtest');
  console.log(`ok: Cassandra ${local.release_version} in ${local.data_center}; wbtest insert/select worked`);
} finally {
  await client.shutdown();
}
