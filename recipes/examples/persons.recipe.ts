// The seed recipe: Redis hashes person:{id} synced to the MySQL/MariaDB table `persons`, as in
// the README's quickstart (whose step 3 is this file, kept equal by test/integration/readme.test.ts).
//
//   CREATE TABLE persons (id VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, first VARCHAR(255), last VARCHAR(255), age INT);
//   npx wb-cli tune param MySqlUser root
//   printf '' | npx wb-cli tune param MySqlPassword --stdin
//   npx wb-cli upload recipes/examples/persons.recipe.ts
import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';

// each credential is a string or a function, evaluated at every connection attempt
const connection = new MySqlConnection(
  () => configGet('MySqlUser'),
  () => configGet('MySqlPassword'),
  '127.0.0.1:3306/test', // host:port/database
);

export default writeBehind({
  name: 'PersonsWriteBehind',
  version: '1',
  connector: new MySqlConnector(connection, 'persons', 'id'), // table, primary-key column
  keysPrefix: 'person', // covers keys person:{id}
  mappings: { first_name: 'first', last_name: 'last', age: 'age' }, // hash field -> column
});
