"""Storage: database URLs and connections, the migration runner, the hash-chained
recorders and the request log — what the application and the read side both use."""
