"""Built-in domain folders, shipped as package data, loaded by `t2t.domain.loader.load_domain`."""
