"""What notifications calls: other services over gRPC, outside providers."""
