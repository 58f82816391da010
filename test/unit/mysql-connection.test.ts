import { describe, it, expect } from 'vitest';
import { MySqlConnection, MySqlConnector, RecipeError } from '../../recipes/index.ts';
import { parseHostDb } from '../../recipes/connectors/host-db.ts';

describe('parseHostDb', () => {
  it('parses host, port and database', () => {
    expect(parseHostDb('db.example.com:3307/shop', 3306, 'f')).toEqual({ host: 'db.example.com', port: 3307, database: 'shop' });
  });

  it('defaults the port', () => {
    expect(parseHostDb('localhost/test', 3306, 'f')).toEqual({ host: 'localhost', port: 3306, database: 'test' });
  });

  it.each(['localhost:0/test', 'localhost:65536/test', 'localhost:abc/test', 'localhost:/test', 'localhost:1.5/test'])(
    'rejects the bad port in %s',
    (value) => {
      expect(() => parseHostDb(value, 3306, 'MySqlConnection db')).toThrow(
        new RecipeError(`MySqlConnection db has an invalid port in '${value}' (expected 1-65535)`),
      );
    },
  );

  it.each(['localhost', 'localhost:3306/', '/test', ''])('rejects %j without host or database', (value) => {
    expect(() => parseHostDb(value, 3306, 'F')).toThrow(`F must look like 'host[:port]/database' (got '${value}')`);
  });

  it('rejects a non-string', () => {
    expect(() => parseHostDb(42, 3306, 'F')).toThrow("F must look like 'host[:port]/database' (got number)");
  });
});

describe('MySqlConnection', () => {
  it('exposes host, port and database and describes itself without credentials', () => {
    const c = new MySqlConnection('root', 's3cret', 'localhost/test');
    expect([c.host, c.port, c.database]).toEqual(['localhost', 3306, 'test']);
    expect(c.describe()).toBe('localhost:3306/test');
    expect(c.describe()).not.toContain('s3cret');
  });

  it('accepts credential functions', () => {
    const user = () => 'u';
    const c = new MySqlConnection(user, async () => 'p', 'h:1/d');
    expect(c.user).toBe(user);
    expect(c.port).toBe(1);
  });

  it('requires string or function credentials', () => {
    expect(() => new MySqlConnection(1 as unknown as string, 'p', 'h/d')).toThrow(
      new RecipeError('MySqlConnection user must be a string or a function returning one (got number)'),
    );
    expect(() => new MySqlConnection('u', undefined as unknown as string, 'h/d')).toThrow(
      new RecipeError('MySqlConnection password must be a string or a function returning one (got undefined)'),
    );
  });

  it('names the db field in parse errors', () => {
    expect(() => new MySqlConnection('u', 'p', 'localhost:99999/test')).toThrow(
      "MySqlConnection db has an invalid port in 'localhost:99999/test' (expected 1-65535)",
    );
    expect(() => new MySqlConnection('u', 'p', 'localhost')).toThrow(
      "MySqlConnection db must look like 'host[:port]/database' (got 'localhost')",
    );
  });
});

describe('MySqlConnector', () => {
  const conn = new MySqlConnection('u', 'p', 'localhost:3306/test');

  it('describes itself', () => {
    expect(new MySqlConnector(conn, 'persons', 'id').describe()).toBe('mysql localhost:3306/test table persons');
  });

  it('validates its arguments', () => {
    expect(() => new MySqlConnector({} as MySqlConnection, 't', 'id')).toThrow('MySqlConnector connection must be a MySqlConnection');
    expect(() => new MySqlConnector(conn, ' ', 'id')).toThrow('MySqlConnector table must be a non-empty string');
    expect(() => new MySqlConnector(conn, 't', '')).toThrow('MySqlConnector pkColumn must be a non-empty string');
  });
});
