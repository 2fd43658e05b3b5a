"""Pydantic schemas of the REST API: one class per direction (``*Create`` in, ``*Public`` out)."""
