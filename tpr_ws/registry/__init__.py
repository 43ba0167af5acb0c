"""The actor registry: leases, fenced checkpoints and the session log, on Redis.

It knows nothing of TPR: a turn is any function from the last checkpoint to the next one and
its events. `keys` names every Redis key, `scripts` holds the Lua, `storage` runs the scripts,
`client` connects, `turns` runs one turn under a renewed lease.
"""
