"""Core: the data model, errors, settings, file I/O, the copy-on-write environment and replay.

Everything else builds on these; they import nothing above them and never wait on a model.
"""
