"""Running the host modules (module_utils/hostmodule.py) in-process against fake host trees.

AnsibleModule's exit_json and fail_json raise Exit, so a test gets the result of one run;
run_command and get_bin_path are the fake host's. check_documentation compares a module's
DOCUMENTATION (its doc fragments merged, as ansible-doc merges them) with its argument spec.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

RunCommand = Callable[..., tuple[int, str, str]]


class Exit(Exception):
    """The end of one module run: its result, and whether it failed."""

    def __init__(self, result: dict[str, Any], failed: bool) -> None:
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


def _exit(failed: bool) -> Callable[..., None]:
    def raise_exit(_self: Any, **result: Any) -> None:
        raise Exit(result, failed)

    return raise_exit


def patch_module(
    monkeypatch: pytest.MonkeyPatch,
    run_command: RunCommand,
    get_bin_path: Callable[[str], str | None],
) -> None:
    """AnsibleModule with the fake host's commands, ending each run with Exit."""
    monkeypatch.setattr(
        basic.AnsibleModule, "run_command", lambda _self, args, **_: run_command(args)
    )
    monkeypatch.setattr(
        basic.AnsibleModule, "get_bin_path", lambda _self, name, **_: get_bin_path(name)
    )
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit(False))
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _exit(True))


class FakeRoots:
    """A fake host under ``root``: its procfs and sysfs trees, and files in them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.proc = root / "proc"
        self.sys = root / "sys"
        self.proc.mkdir(parents=True)
        self.sys.mkdir(parents=True)

    def write(self, relative: str, text: str) -> Path:
        """Write ``text`` to ``root/relative``, making its directories."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def roots(self) -> dict[str, str]:
        """The modules' proc_root and sys_root options for this tree."""
        return {"proc_root": str(self.proc), "sys_root": str(self.sys)}


def run_module(
    module: ModuleType, args: dict[str, Any], check_mode: bool = False, diff: bool = False
) -> Exit:
    """One run of ``module.main()`` with ``args``, as Ansible would start it."""
    args = dict(args)
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args), pytest.raises(Exit) as caught:
        module.main()
    return caught.value


def _fragment(slug: str) -> dict[str, Any]:
    """icperf.lab.NAME[.VAR] -> the YAML of plugins/doc_fragments/NAME.py's VAR."""
    parts = slug.split(".")
    assert parts[:2] == ["icperf", "lab"], slug
    source = importlib.import_module(
        f"ansible_collections.icperf.lab.plugins.doc_fragments.{parts[2]}"
    )
    variable = parts[3].upper() if len(parts) > 3 else "DOCUMENTATION"
    return yaml.safe_load(getattr(source.ModuleDocFragment, variable))


def documentation(module: ModuleType) -> dict[str, Any]:
    """DOCUMENTATION with its fragments' options and attributes merged in."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    for slug in doc.pop("extends_documentation_fragment", []):
        fragment = _fragment(slug)
        for key in ("options", "attributes"):
            overlap = set(doc.get(key, {})) & set(fragment.get(key, {}))
            assert key == "attributes" or not overlap, (slug, overlap)
            doc[key] = {**fragment.get(key, {}), **doc.get(key, {})}
    return doc


def check_documentation(module: ModuleType, returned: set[str]) -> None:
    """ansible-doc can parse the docs; they list every option with its type, default and
    choices, the attributes check mode and diff mode, and at least ``returned``."""
    doc = documentation(module)
    yaml.safe_load(module.EXAMPLES)
    options = doc["options"]
    assert set(options) == set(module.ARGUMENT_SPEC)
    for name, spec in module.ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
        if "choices" in spec:
            assert options[name].get("choices") == spec["choices"], name
    assert {"check_mode", "diff_mode"} <= set(doc["attributes"])
    assert returned <= set(yaml.safe_load(module.RETURN))
