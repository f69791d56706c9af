"""inbox's use cases over a unit of work; its pure rules stay I/O-free."""
