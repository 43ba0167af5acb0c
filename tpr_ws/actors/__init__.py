"""Actors: pure state machines the registry runs one turn at a time (no I/O, no clock)."""
