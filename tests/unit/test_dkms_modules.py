"""dkms_modules module: dkms status read, what a kernel lacks built, on a fake DKMS.

``dkms`` is replaced by a function keeping a table of (module, version, kernel, state) and
answering ``dkms status [-k kernel]`` in the format of dkms 3 (Debian 12) or dkms 2 (with
``-k``, a module not built for that kernel is listed as added); ``dkms install``
marks a module installed for a kernel when that kernel's headers are under the fake
/lib/modules, and fails as DKMS does otherwise.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.modules import dkms_modules
from icperf_module_runner import Exit, check_documentation, patch_module, run_module

OLD = "6.1.0-57-amd64"
NEW = "6.12.95+deb12-amd64"


class FakeDkms:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.modules_root = root / "lib/modules"
        self.headers(OLD)
        (self.modules_root / NEW).mkdir(parents=True)
        self.table: dict[tuple[str, str], dict[str, str]] = {
            ("dpdk-kmods", "0~20220829+git"): {OLD: "installed"},
        }
        self.format = 3
        self.present = True
        self.build_rc = 0
        self.commands: list[list[str]] = []
        patch_module(
            monkeypatch,
            self._run_command,
            lambda name: f"/usr/sbin/{name}" if self.present else None,
        )

    def headers(self, kernel: str) -> None:
        (self.modules_root / kernel / "build").mkdir(parents=True, exist_ok=True)

    def status_text(self, only: str | None) -> str:
        """As dkms prints it; with ``only`` (-k), modules not built for it are added."""
        lines = []
        for (name, version), kernels in sorted(self.table.items()):
            shown = {k: v for k, v in kernels.items() if only in (None, k)}
            if not shown:
                lines.append(f"{name}/{version}: added")
            for kernel, state in sorted(shown.items()):
                if self.format == 3:
                    lines.append(f"{name}/{version}, {kernel}, x86_64: {state}")
                else:
                    lines.append(f"{name}, {version}, {kernel}, x86_64: {state}")
        return "\n".join(lines) + "\n"

    def _run_command(self, args: list[str], **_: Any) -> tuple[int, str, str]:
        self.commands.append(list(args))
        assert args[0] == "/usr/sbin/dkms"
        if args[1] == "status":
            return 0, self.status_text(args[3] if args[2:3] == ["-k"] else None), ""
        assert args[1] == "install", args
        name, version, kernel = args[3], args[5], args[7]
        if self.build_rc or not (self.modules_root / kernel / "build").is_dir():
            return 10, "", f"Error! Bad return status for module build on kernel: {kernel}"
        self.table[(name, version)][kernel] = "installed"
        return 0, "", ""

    def builds(self) -> list[list[str]]:
        return [c for c in self.commands if c[1] == "install"]

    def run(self, check_mode: bool = False, **params: Any) -> Exit:
        args = {"modules_root": str(self.modules_root), **params}
        return run_module(dkms_modules, args, check_mode)


@pytest.fixture
def dkms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDkms:
    return FakeDkms(tmp_path, monkeypatch)


@pytest.mark.parametrize("status_format", [3, 2])
def test_builds_what_the_new_kernel_lacks(dkms: FakeDkms, status_format: int) -> None:
    dkms.format = status_format
    dkms.headers(NEW)

    result = dkms.run(kernel=NEW)

    assert not result.failed, result.result
    assert result.result["changed"] is True
    assert result.result["missing"] == ["dpdk-kmods/0~20220829+git"]
    assert result.result["built"] == ["dpdk-kmods/0~20220829+git"]
    assert result.result["installed"] == ["dpdk-kmods/0~20220829+git"]
    assert dkms.builds() == [
        ["/usr/sbin/dkms", "install", "-m", "dpdk-kmods", "-v", "0~20220829+git", "-k", NEW]
    ]
    assert dkms.table[("dpdk-kmods", "0~20220829+git")][NEW] == "installed"


def test_a_kernel_that_has_everything_changes_nothing(dkms: FakeDkms) -> None:
    dkms.table[("dpdk-kmods", "0~20220829+git")][NEW] = "built"
    result = dkms.run(kernel=OLD, modules=["dpdk-kmods"])

    assert result.result["changed"] is False
    assert result.result["missing"] == [] and result.result["built"] == []
    assert result.result["installed"] == ["dpdk-kmods/0~20220829+git"]
    assert dkms.builds() == []
    assert all(c == ["/usr/sbin/dkms", "status", "-k", OLD] for c in dkms.commands)


def test_a_module_only_built_is_installed(dkms: FakeDkms) -> None:
    dkms.headers(NEW)
    dkms.table[("dpdk-kmods", "0~20220829+git")][NEW] = "built"

    result = dkms.run(kernel=NEW)

    assert result.result["built"] == ["dpdk-kmods/0~20220829+git"]


def test_check_mode_reports_what_is_missing_even_without_headers(dkms: FakeDkms) -> None:
    result = dkms.run(check_mode=True, kernel=NEW)

    assert not result.failed
    assert result.result["changed"] is True
    assert result.result["missing"] == ["dpdk-kmods/0~20220829+git"]
    assert result.result["headers"] is False
    assert dkms.builds() == []


def test_no_headers_fails_naming_the_package_before_building(dkms: FakeDkms) -> None:
    result = dkms.run(kernel=NEW)

    assert result.failed
    assert result.result["msg"].startswith(f"dkms: kernel {NEW} has no headers")
    assert f"install linux-headers-{NEW} to build dpdk-kmods/0~20220829+git" in result.result["msg"]
    assert dkms.builds() == []


def test_a_module_only_added_is_built_too(dkms: FakeDkms) -> None:
    dkms.table[("other", "1.0")] = {}
    dkms.headers(NEW)

    result = dkms.run(kernel=NEW)

    assert result.result["built"] == ["dpdk-kmods/0~20220829+git", "other/1.0"]


def test_only_the_named_modules_are_built(dkms: FakeDkms) -> None:
    dkms.table[("other", "1.0")] = {}
    dkms.headers(NEW)

    result = dkms.run(kernel=NEW, modules=["other"])

    assert result.result["built"] == ["other/1.0"]
    assert NEW not in dkms.table[("dpdk-kmods", "0~20220829+git")]


def test_a_failing_build_fails_the_task_with_dkms_message(dkms: FakeDkms) -> None:
    dkms.headers(NEW)
    dkms.build_rc = 10

    result = dkms.run(kernel=NEW)

    assert result.failed
    assert "dkms install -m dpdk-kmods -v 0~20220829+git" in result.result["msg"]
    assert "Bad return status for module build" in result.result["msg"]


@pytest.mark.parametrize(
    ("present", "params", "message"),
    [
        (True, {"modules": ["dpdk-kmodz"]},
         "rp_modules: dpdk-kmodz is not a DKMS module of this host (DKMS knows dpdk-kmods)"),
        (False, {"modules": ["dpdk-kmods"]},
         "rp_modules: dpdk-kmods asked, but this host has no DKMS"),
    ],
    ids=["unknown-module", "no-dkms"],
)  # fmt: skip
def test_bad_input_is_refused_naming_the_variable(
    dkms: FakeDkms, present: bool, params: dict[str, Any], message: str
) -> None:
    dkms.present = present
    dkms.headers(NEW)

    result = dkms.run(kernel=NEW, var_prefix="rp_", **params)

    assert result.failed and result.result["bad_input"] is True
    assert result.result["msg"].startswith(message), result.result["msg"]
    assert dkms.builds() == []


def test_a_host_without_dkms_has_nothing_to_build(dkms: FakeDkms) -> None:
    dkms.present = False

    result = dkms.run()

    assert not result.failed and result.result["changed"] is False
    assert dkms.commands == []


def test_the_running_kernel_is_the_default(dkms: FakeDkms) -> None:
    assert dkms.run(check_mode=True).result["kernel"] == os.uname().release


def test_result_is_json_serialisable(dkms: FakeDkms) -> None:
    dkms.headers(NEW)
    json.dumps(dkms.run(kernel=NEW).result)


def test_documentation_matches_the_argument_spec() -> None:
    check_documentation(dkms_modules, {"kernel", "missing", "built", "installed", "headers"})
