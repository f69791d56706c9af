"""What ai calls: other services over gRPC, outside providers."""
