"""The canonical key of a dimension set: the natural key of points and roll-ups."""

import json

# The stored key of a dimension set (canonical JSON with non-ASCII escaped) is at most this many characters, in
# metric_points and metric_daily alike; the API refuses a longer one.
DIMS_KEY_LENGTH = 1000


def dims_key(dimensions: dict[str, str]) -> str:
    """The canonical text of a dimension set (at most DIMS_KEY_LENGTH characters; non-ASCII characters are escaped,
    so `é` takes 6)."""
    return json.dumps(dimensions, sort_keys=True, separators=(",", ":"))
