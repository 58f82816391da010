// The seed recipe: Redis hashes person:{id} synced to the MySQL/MariaDB table `persons`.
//
//   CREATE TABLE persons (id VARCHAR(255) PRIMARY KEY, first VARCHAR(255), last VARCHAR(255), age INT);
//   npx wb-cli tune param MySqlUser root
//   npx wb-cli tune param MySqlPassword ''
//   npx wb-cli upload recipes/examples/persons.recipe.ts
import { configGet, MySqlConnection, MySqlConnector, writeBehind } from 'wbsync';

// each credential is a string or a function, evaluated at every connection attempt
const connection = new MySqlConnection(
  () => configGet('MySqlUser'),
  () => configGet('MySqlPassword'),
  'localhost:3306/test', // host:port/database
);
const persons = new MySqlConnector(connection, 'persons', 'id'); // table, primary-key column

export default writeBehind({
  name: 'PersonsWriteBehind',
  version: '1',
  connector: persons,
  keysPrefix: 'person', // covers keys person:{id}
  mappings: { first_name: 'first', last_name: 'last', age: 'age' }, // hash field -> column
});
