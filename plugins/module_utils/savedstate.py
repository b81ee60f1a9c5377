"""Values a role must put back, saved on the host by its first apply/start and only then.

After an interrupted run the host still holds the test's values: a later apply that saved
what it finds would make them permanent. So saving merges into what is already saved and
never overwrites it: a key already saved keeps its value, a missing key is added, and
mappings merge key by key (a second start that manages one more setting adds that
setting's original value and keeps the others). Mappings also serve as sets (``{item:
true}``): a later start adds the items the first one did not know about.

Kernel files (sysfs, /proc/sys) are set the same way: their contents are saved under
``files`` ({path: content}) before anything is written to them, and putting the state
back writes those contents back before the state file is removed.

Plain Python (no Ansible imports): the saved_state module wraps it, the unit tests call it.
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from collections.abc import Mapping

FILES_KEY = "files"


class SavedStateError(Exception):
    """The state file or a kernel file cannot be read or written; the message says which."""


def merge_saved(saved: Mapping[str, object], new: Mapping[str, object]) -> dict[str, object]:
    """Return ``saved`` with the keys of ``new`` it lacks; what ``saved`` holds wins."""
    merged = dict(saved)
    for key, value in new.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(merged[key], Mapping) and isinstance(value, Mapping):
            merged[key] = merge_saved(merged[key], value)
    return merged


def read_state(path: str) -> dict[str, object] | None:
    """Return the saved state, or None when there is no state file."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise SavedStateError(f"{path}: cannot read the saved state: {error}") from None
    if not isinstance(content, dict):
        raise SavedStateError(f"{path}: the saved state is not a JSON object")
    return content


def write_state(path: str, content: Mapping[str, object]) -> None:
    """Write the state file whole or not at all (a killed run leaves the old one)."""
    directory = os.path.dirname(path) or "."
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".saved_state.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(content, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise SavedStateError(f"{path}: cannot save the state: {error}") from None


def remove_state(path: str) -> bool:
    """Remove the state file; return whether there was one."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        return False
    except OSError as error:
        raise SavedStateError(f"{path}: cannot remove the saved state: {error}") from None
    return True


def file_value(value: object, field: str) -> str:
    """The text written to a kernel file: a string or an integer, as given."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise SavedStateError(f"{field}: {value!r} is not a string or an integer")
    return str(value)


def match_files(files: Mapping[str, object], root: str | None = None) -> dict[str, str]:
    """Return {absolute path: value to write} for the writable files matching ``files``.

    Keys are paths or glob patterns, relative to ``root`` unless absolute. A pattern that
    matches nothing is not an error: a host without cpufreq has no governor to set, a
    kernel without br_netfilter no bridge-nf-call-* sysctl. When two patterns match one
    file, the later one's value wins.
    """
    wanted: dict[str, str] = {}
    for pattern, value in files.items():
        text = file_value(value, f"files[{pattern}]")
        full = pattern if os.path.isabs(pattern) or root is None else os.path.join(root, pattern)
        for path in sorted(glob.glob(full)):
            if os.path.isfile(path) and os.access(path, os.W_OK):
                wanted[os.path.abspath(path)] = text
    return wanted


def read_value(path: str) -> str:
    """A kernel file's value, without the trailing newline."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError as error:
        raise SavedStateError(f"{path}: cannot read: {error.strerror}") from None


def write_value(path: str, value: str) -> None:
    # One write call: sysfs and /proc/sys take the value from a single write.
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(value)
    except OSError as error:
        raise SavedStateError(f"{path}: cannot write {value!r}: {error.strerror}") from None
