"""backoffice's servicers: thin, proto in → domain → proto out (access comes from the proto)."""
