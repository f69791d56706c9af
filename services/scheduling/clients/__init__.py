"""What scheduling calls: other services over gRPC, outside providers."""
