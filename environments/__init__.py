"""Built-in domain folders, shipped as package data and loaded by `t2t.domains.load_domain`."""
