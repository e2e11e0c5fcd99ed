"""The IntegrationService gRPC server: thin RPC handlers over plugins and the graph store."""
