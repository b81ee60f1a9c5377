"""What the modules that provision a lab host share: their parameters named the role's way,
host files read and written under configurable roots, commands, and their main().

Each module keeps its logic in a small class derived from HostModule; run_module builds the
AnsibleModule, runs that class and turns its exceptions into failures: IcperfInputError (bad
input, found before anything changed) with ``bad_input``, OSError and RuntimeError (the host
refused) without.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError

# The option every such module has: errors name the role's variable, not the module's option.
VAR_PREFIX_SPEC: dict[str, dict[str, Any]] = {"var_prefix": {"type": "str", "default": ""}}
# Where procfs and sysfs are mounted: unit tests point them at a fake tree.
ROOTS_SPEC: dict[str, dict[str, Any]] = {
    "proc_root": {"type": "path", "default": "/proc"},
    "sys_root": {"type": "path", "default": "/sys"},
}


def argument_spec(own: Mapping[str, Any], roots: bool) -> dict[str, Any]:
    """A module's own options, the roots (documented by icperf.lab.host.roots) and var_prefix
    (icperf.lab.host)."""
    return {**own, **(ROOTS_SPEC if roots else {}), **VAR_PREFIX_SPEC}


class HostModule:
    """Base of a module's logic class: its parameters, prefixed names, files and commands."""

    def __init__(self, module: AnsibleModule) -> None:
        self.module = module
        self.params: Mapping[str, Any] = module.params
        self.prefix: str = self.params.get("var_prefix") or ""

    def name(self, option: str) -> str:
        """The option as the caller knows it (a role's variable with its prefix)."""
        return f"{self.prefix}{option}"

    def proc(self, *parts: str) -> str:
        return os.path.join(self.params["proc_root"], *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.params["sys_root"], *parts)

    @staticmethod
    def read(path: str, default: str | None = None) -> str:
        """A file's text; ``default`` when it does not exist (raises without a default)."""
        try:
            with open(path, encoding="utf-8") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            if default is None:
                raise
            return default

    def value(self, path: str) -> str:
        """A sysfs or procfs attribute, stripped; "" when the file is not there."""
        return self.read(path, "").strip()

    def write_file(self, path: str, content: str, mode: int = 0o644) -> None:
        """Replace a configuration file atomically, creating its directory."""
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o755)
        tmp = f"{path}.icperf-tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        self.module.atomic_move(tmp, path)

    def binary(self, name: str) -> str:
        """An absolute path stays; a bare name is looked up on the host (or fails)."""
        if os.path.isabs(name):
            return name
        return str(self.module.get_bin_path(name, required=True))

    def command(self, args: Sequence[str], check: bool = True, tail: int = 2000) -> tuple[int, str]:
        """Run ``args`` (its first word looked up); a failure raises with the output's end."""
        command = [self.binary(args[0]), *args[1:]]
        rc, out, err = self.module.run_command(command)
        if check and rc != 0:
            raise RuntimeError(f"{' '.join(args)} failed (rc {rc}): {(err or out).strip()[-tail:]}")
        return rc, out


def run_module(argument_spec: Mapping[str, Any], logic: Callable[[AnsibleModule], Any]) -> None:
    """main() of a host module: ``logic(module).run()`` gives the result (check mode too)."""
    module = AnsibleModule(argument_spec=dict(argument_spec), supports_check_mode=True)
    try:
        result = logic(module).run()
    except IcperfInputError as error:
        module.fail_json(msg=str(error), bad_input=True)
    except (OSError, RuntimeError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)
