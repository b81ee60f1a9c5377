"""Extra variables that Ansible's key=value parser would silently cut short."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

RAW = "_raw_params"


def stray_tokens(
    extra_vars: Iterable[object], parse_kv: Callable[[str], Mapping[str, Any]]
) -> list[str]:
    """One message per ``-e`` argument holding words that belong to no variable.

    ``-e rates=100000 200000`` after the shell's quoting is the single argument
    ``rates=100000 200000``: Ansible's key=value parser keeps ``rates=100000`` and drops
    ``200000`` without a word. ``parse_kv`` is that parser (ansible.parsing.splitter).
    Arguments given as a file (@...) or as YAML/JSON ({...}, [...]) are not key=value.
    """
    messages = []
    for argument in extra_vars:
        text = str(argument or "")
        if not text or text[0] in "@/.[{":
            continue
        parsed = parse_kv(text)
        stray = str(parsed.get(RAW) or "").strip()
        if not stray:
            continue
        names = [key for key in parsed if key != RAW]
        name = names[-1] if names else "extra vars"
        value = str(parsed.get(name, "")) if names else ""
        messages.append(
            f"{name}: -e '{text}' gives {name}={value} and drops '{stray}' (Ansible splits "
            f"key=value arguments at spaces); write lists with commas, -e {name}="
            f"{','.join([value, *stray.split()]) if value else stray}, or as YAML, "
            f"-e '{{\"{name}\": [...]}}'"
        )
    return messages
