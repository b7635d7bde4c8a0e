"""The canonical key of a dimension set: the natural key of points and roll-ups."""

import json

# The stored key of a dimension set (canonical JSON with non-ASCII escaped) is at most this many characters, in
# metric_points and metric_daily alike; the API refuses a longer one.
DIMS_KEY_LENGTH = 1000


def dims_key(dimensions: dict[str, str]) -> str:
    """The canonical text of a dimension set (at most DIMS_KEY_LENGTH characters; non-ASCII characters are escaped,
    so `é` takes 6)."""
    return json.dumps(dimensions, sort_keys=True, separators=(",", ":"))


# A money point's ISO 4217 currency travels as this reserved dimension of its key: amounts of different
# currencies are different keys, and slices keep them apart (metric_slices.currency). Not a dimension a
# metric may allow or a filter may name.
CURRENCY_DIMENSION = "currency"


def json_text(column: str, key: str, postgres: bool) -> str:
    """SQL for the text of one member of a JSON column (`key` a module constant, never user input)."""
    return f"({column} ->> '{key}')" if postgres else f"json_extract({column}, '$.{key}')"
