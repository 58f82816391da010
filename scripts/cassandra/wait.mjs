// CQL readiness check for scripts/cassandra.sh, using the project's cassandra-driver.
// usage: node scripts/cassandra/wait.mjs <host:port> <timeout-seconds>
// Logs in with cassandra/cassandra and runs SELECT release_version FROM system.local, retrying
// until it works or the deadline passes (timeout 0 = one attempt). Prints the version; exit 0 on success.
import cassandra from 'cassandra-driver';

const [endpoint = '127.0.0.1:9142', timeoutArg = '0'] = process.argv.slice(2);
const deadline = Date.now() + Number(timeoutArg) * 1000;
const quiet = process.env.CASSANDRA_WAIT_QUIET === '1';

async function attempt() {
  const client = new cassandra.Client({
    contactPoints: [endpoint],
    localDataCenter: 'datacenter1', // SimpleSnitch's data centre
    authProvider: new cassandra.auth.PlainTextAuthProvider('cassandra', 'cassandra'),
    socketOptions: { connectTimeout: 2000, readTimeout: 5000 },
    pooling: { warmup: false },
  });
  try {
    await client.connect();
    const rs = await client.execute('SELECT release_version FROM system.local');
    return rs.first().release_version;
  } finally {
    await client.shutdown().catch(() => {});
  }
}

let lastError = '';
for (;;) {
  try {
    const version = await attempt();
    console.log(version);
    process.exit(0);
  } catch (err) {
    lastError = `${err.name}: ${err.message}`;
  }
  if (Date.now() + 500 > deadline) break;
  await new Promise((r) => setTimeout(r, 500));
}
if (!quiet) console.error(`CQL not ready on ${endpoint}: ${lastError}`);
process.exit(1);
