"""Domains: loading domain folders (built-in or your own) and the helpers their tools share."""
