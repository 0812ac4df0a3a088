// Mesh Compose configuration for make bench-compare: Run:ai's own OpenAPI
// document as a subgraph, plus the two links a dashboard needs, written the
// way Mesh documents them (additionalTypeDefs + @resolveTo):
//
//   Nodepool.nodes  -> GET /api/v1/clusters/{clusterId}/nodes?filterBy=nodePool==<name>
//   Node.metrics    -> GET /api/v1/nodes/{id}/metrics
//
// The harness sets RUNAI_OPENAPI (the document), RUNAI_URL (the simulator)
// and, when it starts Hive Gateway, RUNAI_TOKEN: the static bearer the
// gateway sends on every upstream call.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('RunAI', {
        source: process.env.RUNAI_OPENAPI,
        endpoint: process.env.RUNAI_URL,
        operationHeaders: { Authorization: 'Bearer {env.RUNAI_TOKEN}' },
      }),
    },
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type Nodepool {
      nodes(limit: Int = 500): get_nodes_response
        @resolveTo(
          sourceName: "RunAI"
          sourceTypeName: "Query"
          sourceFieldName: "get_nodes"
          requiredSelectionSet: "{ clusterId name }"
          sourceArgs: { clusterUuid: "{root.clusterId}", filterBy: ["nodePool=={root.name}"], limit: "{args.limit}" }
        )
    }
    extend type Node {
      metrics(metricType: [NodeMetricType]!, start: DateTime!, end: DateTime!, numberOfSamples: NonNegativeInt = 20): get_node_metrics_response
        @resolveTo(
          sourceName: "RunAI"
          sourceTypeName: "Query"
          sourceFieldName: "get_node_metrics"
          requiredSelectionSet: "{ id }"
          sourceArgs: { nodeId: "{root.id}", metricType: "{args.metricType}", start: "{args.start}", end: "{args.end}", numberOfSamples: "{args.numberOfSamples}" }
        )
    }
  `,
});
