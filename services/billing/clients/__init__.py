"""What billing calls: other services over gRPC, outside providers."""
