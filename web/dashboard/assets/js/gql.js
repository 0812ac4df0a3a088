// gql.js: queries and mutations by POST, and the caller's credentials.

/** The GraphQL endpoint, from the page (the Go handler fills it in). */
export const endpoint = new URL(
  document.querySelector('meta[name="fleetgraph-endpoint"]')?.content || '/graphql',
  location.href,
).href;

const credsKey = 'fleetgraph.credentials';

/** Credentials for pass-through backends, kept per tab. */
export function credentials() {
  try {
    return JSON.parse(sessionStorage.getItem(credsKey)) || {};
  } catch {
    return {};
  }
}

export function setCredentials(c) {
  sessionStorage.setItem(credsKey, JSON.stringify(c));
}

/** The HTTP headers carrying the credentials (none when unset). */
export function authHeaders() {
  const c = credentials();
  const hdr = {};
  if (c.authorization) hdr.Authorization = c.authorization;
  if (c.xAuthToken) hdr['X-Auth-Token'] = c.xAuthToken;
  if (c.apiKey) hdr['X-API-Key'] = c.apiKey;
  return hdr;
}

/** A request that failed before GraphQL answered (network, HTTP, not JSON). */
export class TransportError extends Error {}

/**
 * request sends one operation and resolves to the GraphQL response
 * ({data, errors}): partial data with errors is normal here (one failing
 * vendor never blanks the other's data), so errors do not reject.
 */
export async function request(query, variables = {}, { signal } = {}) {
  let res;
  try {
    res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/graphql-response+json, application/json', ...authHeaders() },
      body: JSON.stringify({ query, variables }),
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new TransportError(`gateway unreachable: ${e.message}`);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new TransportError(`gateway answered HTTP ${res.status} without a GraphQL response`);
  }
  if (!body || (body.data === undefined && !body.errors)) {
    throw new TransportError(`gateway answered HTTP ${res.status} without a GraphQL response`);
  }
  return { data: body.data ?? null, errors: body.errors || [] };
}

/**
 * requestPerItem asks for a group of aliased root fields per item (a pool's
 * totals, its metrics) in as few operations as the gateway allows: one
 * operation has at most limits.maxRootFields (default 20) root fields and
 * maxAliases (30) aliases, so the items go in chunks of max / fieldsPerItem,
 * smaller again when the gateway says its limit is lower (LIMIT_EXCEEDED
 * names it). build(chunk, base) returns {query, variables} for items
 * base..base+chunk.length-1 (aliases numbered from base, so they stay
 * unique); the answers are merged into one {data, errors}.
 */
export async function requestPerItem(items, fieldsPerItem, build, max = 20) {
  const size = Math.max(1, Math.floor(max / fieldsPerItem));
  const bases = [];
  for (let i = 0; i < items.length; i += size) bases.push(i);
  const answers = await Promise.all(bases.map((base) => {
    const { query, variables } = build(items.slice(base, base + size), base);
    return request(query, variables);
  }));
  const errors = answers.flatMap((a) => a.errors);
  const lower = errors.find((e) => e.extensions?.code === 'LIMIT_EXCEEDED' && ['rootFields', 'aliases'].includes(e.extensions.limit) && e.extensions.max < max);
  if (lower && size > 1) return requestPerItem(items, fieldsPerItem, build, lower.extensions.max);
  return { data: Object.assign({}, ...answers.map((a) => a.data || {})), errors };
}

/** A one-line summary of GraphQL errors, with their codes, without repeats. */
export function describeErrors(errors) {
  const lines = new Set((errors || []).map((e) => {
    const x = e.extensions || {};
    return `${x.code ? `${x.code}: ` : ''}${e.message}${x.backend ? ` (${x.backend})` : ''}`;
  }));
  const unauthenticated = (errors || []).some((e) => e.extensions?.code === 'UNAUTHENTICATED');
  return [...lines].join('; ') + (unauthenticated ? ' (set credentials with the Credentials button)' : '');
}

/**
 * briefErrors is describeErrors for a small space: the code and, for a
 * partial metrics answer, the missing types.
 */
export function briefErrors(errors) {
  return [...new Set((errors || []).map((e) => {
    const x = e.extensions || {};
    if (x.partial && x.missing) return `no ${[].concat(x.missing).join(', ')} data`;
    return x.code ? `${x.code}${x.backend ? ` (${x.backend})` : ''}` : e.message;
  }))].join('; ');
}
