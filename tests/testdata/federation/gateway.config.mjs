// Hive Gateway's configuration in the federation tests: demand control on,
// pricing operations by the schema's @cost and @listSize, with the estimate
// in extensions.cost.estimated.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  demandControl: {
    listSize: 10,
    includeExtensionMetadata: true,
    maxCost: 5000,
  },
});
