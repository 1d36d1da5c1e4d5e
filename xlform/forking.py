"""Where a worker process may be forked: on Linux only. A fork starts at once with everything this process
has loaded; elsewhere fork is unsafe (macOS) or missing (Windows), and a worker is a fresh interpreter,
which costs a fraction of a second to start. Reading (collect) and writing (ooxml.rows) both ask here.
And how a result crosses back from a worker cheaply (sent_as_values)."""

from __future__ import annotations

import dataclasses
import sys
from operator import attrgetter
from typing import Any, TypeVar

FORK = sys.platform.startswith("linux")

T = TypeVar("T", bound=type)


def sent_as_values(cls: T) -> T:
    """A slots dataclass pickled as (its class, its field values), rebuilt by its __init__: pickle otherwise goes
    through the Python-level __getstate__/__setstate__ slots dataclasses get, which look up the fields again for
    every object; a report's workers send back tens of thousands of them (a third cheaper both ways)."""
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields]
    values = attrgetter(*names)
    # __init__ takes the values in field order; attrgetter of one name gives the value itself, not a tuple
    if len(names) < 2 or not all(f.init for f in fields):
        raise TypeError(f"{cls.__name__}: sent_as_values needs two fields or more, all of them __init__'s")

    def __reduce__(self: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, values(self)

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010 - a method set on the class built by @dataclass
    return cls
