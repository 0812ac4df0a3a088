// Hive Gateway with its response cache, for make bench-compare: the
// responseCaching plugin (@graphql-mesh/plugin-response-cache, built into
// @graphql-hive/gateway-runtime) storing whole responses in the same
// redis-server as fleetgraph's cache (@graphql-mesh/cache-redis). One
// global session (the plugin's default without sessionId; every bench
// request carries the same static upstream token), entries kept
// RESPONSE_CACHE_TTL_MS, the TTL fleetgraph's response cache is given.
// The harness sets REDIS_URL and RESPONSE_CACHE_TTL_MS.
export const gatewayConfig = {
  cache: { type: 'redis', url: process.env.REDIS_URL },
  responseCaching: {
    ttl: Number(process.env.RESPONSE_CACHE_TTL_MS || 5000),
  },
};
