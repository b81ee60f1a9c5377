"""Error raised for bad user input anywhere in the icperf.lab plugins."""

from __future__ import annotations


class IcperfInputError(ValueError):
    """Bad input; the message starts with the name of the variable or field at fault."""
