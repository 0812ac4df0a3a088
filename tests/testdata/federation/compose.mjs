// Composes subgraphs into a supergraph with @theguild/federation-composition
// (what Hive and Hive Gateway compose with). Input (argv[2]): a JSON list of
// {name, url, sdl}. Output (stdout): {errors, hints, supergraphSdl}.
import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { composeServices } from '@theguild/federation-composition';

const subgraphs = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
const message = (e) => ({ message: e.message, code: e.extensions?.code ?? e.code ?? null });
process.stdout.write(JSON.stringify({
  errors: (result.errors ?? []).map(message),
  hints: (result.hints ?? []).map(message),
  supergraphSdl: result.supergraphSdl ?? null,
}));
