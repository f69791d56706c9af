"""What inbox calls: other services over gRPC, outside providers."""
