"""Domains: loading domain folders (built-in or your own) and the helpers their tools share."""

from t2t.domain.loader import (
    builtin_domains,
    domain_module,
    load_domain,
    read_db,
    register_domain,
    scale_sizes,
)

__all__ = [
    "builtin_domains",
    "domain_module",
    "load_domain",
    "read_db",
    "register_domain",
    "scale_sizes",
]
