"""What backoffice calls: other services over gRPC, outside providers."""
