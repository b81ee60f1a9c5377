"""The one exception the command line turns into exit status 2."""

from __future__ import annotations


class InputError(Exception):
    """Input the analysis refuses; the message names the file or directory at fault."""
