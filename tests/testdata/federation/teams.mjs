// A second subgraph for the federation tests: a team directory that owns
// nodes. It extends fleetgraph's Node with `owner` and lists each team's
// nodes (Node entities that fleetgraph resolves). argv: port, a JSON file
// {"<node id>": "<team name>"}. GET /stats: its _entities calls and the
// representations they carried.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { buildSchema, graphql, GraphQLScalarType } from 'graphql';

const port = Number(process.argv[2]);
const owners = JSON.parse(readFileSync(process.argv[3], 'utf8'));
const sdl = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])

type Team {
  name: String!
  email: String!
  nodes: [Node!]!
}

type Node @key(fields: "id") {
  id: ID!
  owner: Team
}

type Query {
  teams: [Team!]!
}
`;
const schema = buildSchema(`
directive @link(url: String!, import: [String]) repeatable on SCHEMA
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
scalar _Any
union _Entity = Node
type _Service { sdl: String }
extend type Query { _entities(representations: [_Any!]!): [_Entity]! _service: _Service! }
${sdl}`);
schema.getType('_Any').parseValue = (v) => v;
schema.getType('_Entity').resolveType = (v) => v.__typename;

const team = (name) => name && { name, email: `${name}@example.com` };
const teams = [...new Set(Object.values(owners))].sort().map(team);
const stats = { entityCalls: 0, representations: 0 };
const root = {
  _service: () => ({ sdl }),
  _entities: ({ representations }) => {
    stats.entityCalls++;
    stats.representations += representations.length;
    return representations.map((r) => (r.__typename === 'Node' ? { __typename: 'Node', id: r.id, owner: team(owners[r.id]) } : null));
  },
  teams: () => teams.map((t) => ({ ...t, nodes: Object.keys(owners).filter((id) => owners[id] === t.name).map((id) => ({ __typename: 'Node', id })) })),
};

createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    return res.end(JSON.stringify(stats));
  }
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', async () => {
    let out;
    try {
      const { query, variables, operationName } = JSON.parse(body || '{}');
      out = await graphql({ schema, source: query, variableValues: variables, operationName, rootValue: root });
    } catch (e) {
      out = { errors: [{ message: String(e) }] };
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
  });
}).listen(port, '127.0.0.1', () => console.log('ready'));
