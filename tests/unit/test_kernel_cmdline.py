"""kernel_cmdline module: the drop-in, update-grub and /proc/cmdline, on a fake host tree.

The fake host has /proc (cmdline, meminfo, cpuinfo), /sys/devices/system/cpu/present,
/etc/default/grub.d and /boot/grub/grub.cfg under tmp_path. ``update-grub`` is replaced by a
function that regenerates grub.cfg from the drop-in, as the real one does, and counts its runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.modules import kernel_cmdline
from icperf_module_runner import (
    Exit,
    FakeRoots,
    check_documentation,
    patch_module,
    run_module,
)

BASE_CMDLINE = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-40-amd64 root=UUID=1234 ro console=ttyS0,115200n8"
MEMINFO_4G = "MemTotal:        3995012 kB\nMemFree:         3600000 kB\n"
CPUINFO = "processor\t: 0\nflags\t\t: fpu vme pse pdpe1gb lm\n"
CPUINFO_NO_1G = "processor\t: 0\nflags\t\t: fpu vme pse lm\n"


class FakeHost(FakeRoots):
    """A host tree under ``root`` and the module run against it."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(root)
        self.dropin = root / "etc/default/grub.d/icperf.cfg"
        self.set_cmdline(BASE_CMDLINE)
        self.write("proc/meminfo", MEMINFO_4G)
        self.write("proc/cpuinfo", CPUINFO)
        self.write("sys/devices/system/cpu/present", "0-1\n")
        self.grub_cfg = self.write("boot/grub/grub.cfg", self.grub_text(""))
        self.commands: list[list[str]] = []
        self.update_rc = 0
        # What another drop-in would do: replace the default command line after ours.
        self.override: str | None = None
        patch_module(monkeypatch, self._run_command, lambda name: name)

    @staticmethod
    def grub_text(args: str) -> str:
        return (
            "menuentry 'Debian GNU/Linux' {\n"
            "\tlinux\t/boot/vmlinuz-6.1.0-40-amd64 root=UUID=1234 ro console=ttyS0,115200n8 "
            f"{args}\n"
            "\tinitrd\t/boot/initrd.img-6.1.0-40-amd64\n}\n"
        )

    def set_cmdline(self, text: str) -> None:
        (self.proc / "cmdline").write_text(text + "\n")

    def boot(self) -> None:
        """What a reboot does: the running command line becomes grub.cfg's."""
        words = kernel_cmdline.first_linux_args(self.grub_cfg.read_text()) or []
        self.set_cmdline("BOOT_IMAGE=/boot/vmlinuz-6.1.0-40-amd64 " + " ".join(words))

    def _run_command(self, args: list[str], **_: Any) -> tuple[int, str, str]:
        self.commands.append(list(args))
        if self.update_rc:
            return self.update_rc, "", "grub-mkconfig: error: cannot find a device for /"
        appended = ""
        if self.dropin.exists():
            for line in self.dropin.read_text().splitlines():
                match = kernel_cmdline.DROPIN_LINE_RE.match(line)
                if match:
                    appended = match.group(1)
        if self.override is not None:
            appended = self.override
        self.grub_cfg.write_text(self.grub_text(appended))
        return 0, "Generating grub configuration file ...\ndone\n", ""

    def run(self, check_mode: bool = False, diff: bool = False, **params: Any) -> Exit:
        args = {
            **self.roots(),
            "dropin": str(self.dropin),
            "grub_cfg": str(self.grub_cfg),
            **params,
        }
        return run_module(kernel_cmdline, args, check_mode, diff)

    def state(self) -> tuple[str | None, str]:
        dropin = self.dropin.read_text() if self.dropin.exists() else None
        return dropin, self.grub_cfg.read_text()


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeHost:
    return FakeHost(tmp_path, monkeypatch)


LAB = {"hugepages_1g": 1, "hugepages_2m": 256, "iommu": "intel", "isolated_cores": "1"}
LAB_ARGS = [
    "hugepagesz=1G", "hugepages=1", "hugepagesz=2M", "hugepages=256",
    "intel_iommu=on", "iommu=pt", "isolcpus=1", "nohz_full=1", "rcu_nocbs=1",
]  # fmt: skip


def test_first_run_writes_the_dropin_updates_grub_and_asks_for_a_reboot(host: FakeHost) -> None:
    result = host.run(**LAB)

    assert not result.failed, result.result
    assert result.result["changed"] is True
    assert result.result["args"] == LAB_ARGS
    assert result.result["grub_updated"] is True
    assert result.result["reboot_required"] is True
    assert result.result["missing"] == [
        "hugepagesz=1G hugepages=1", "hugepagesz=2M hugepages=256",
        "intel_iommu=on", "iommu=pt", "isolcpus=1", "nohz_full=1", "rcu_nocbs=1",
    ]  # fmt: skip
    assert host.commands == [["update-grub"]]
    assert host.dropin.read_text().splitlines()[-1] == (
        'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT ' + " ".join(LAB_ARGS) + '"'
    )
    assert oct(host.dropin.stat().st_mode & 0o777) == "0o644"


def test_after_the_reboot_nothing_changes_and_no_reboot_is_asked(host: FakeHost) -> None:
    host.run(**LAB)
    host.boot()
    before = host.state()

    result = host.run(**LAB)

    assert result.result["changed"] is False
    assert result.result["reboot_required"] is False
    assert result.result["missing"] == [] and result.result["stale"] == []
    assert host.commands == [["update-grub"]]  # only the first run's
    assert host.state() == before


def test_running_kernel_older_than_the_dropin_still_needs_the_reboot(host: FakeHost) -> None:
    """An earlier run wrote everything but the reboot was deferred: no change, reboot due."""
    host.run(**LAB)

    result = host.run(**LAB)

    assert result.result["changed"] is False
    assert result.result["reboot_required"] is True
    assert len(host.commands) == 1


def test_check_mode_reports_without_writing_or_running(host: FakeHost) -> None:
    before = host.state()

    result = host.run(check_mode=True, diff=True, **LAB)

    assert result.result["changed"] is True
    assert result.result["reboot_required"] is True
    assert result.result["grub_updated"] is True
    assert "iommu=pt" in result.result["diff"]["after"]
    assert result.result["diff"]["before"] == ""
    assert host.state() == before
    assert host.commands == []


def test_grub_cfg_lacking_the_arguments_is_regenerated(host: FakeHost) -> None:
    """The drop-in is right but grub.cfg is not (an interrupted run, a hand edit)."""
    host.run(**LAB)
    host.grub_cfg.write_text(host.grub_text(""))

    result = host.run(**LAB)

    assert result.result["changed"] is True and result.result["grub_updated"] is True
    assert len(host.commands) == 2
    assert "intel_iommu=on" in host.grub_cfg.read_text()


def test_arguments_taken_away_are_stale_until_the_reboot(host: FakeHost) -> None:
    host.run(**LAB)
    host.boot()

    result = host.run(**{**LAB, "isolated_cores": ""})

    assert result.result["changed"] is True
    assert result.result["stale"] == ["isolcpus=1", "nohz_full=1", "rcu_nocbs=1"]
    assert result.result["missing"] == []
    assert result.result["reboot_required"] is True
    assert "isolcpus" not in host.grub_cfg.read_text()
    host.boot()
    assert host.run(**{**LAB, "isolated_cores": ""}).result["reboot_required"] is False


def test_state_absent_removes_the_dropin(host: FakeHost) -> None:
    host.run(**LAB)
    host.boot()

    result = host.run(state="absent")

    assert result.result["changed"] is True
    assert not host.dropin.exists()
    assert "hugepages" not in host.grub_cfg.read_text()
    assert "iommu=pt" in result.result["stale"] and result.result["reboot_required"] is True
    host.boot()
    again = host.run(state="absent")
    assert again.result["changed"] is False and again.result["reboot_required"] is False


def test_hugepage_size_and_count_must_be_neighbours(host: FakeHost) -> None:
    """hugepages= applies to the hugepagesz= just before it."""
    host.run(hugepages_1g=1)
    host.set_cmdline(BASE_CMDLINE + " hugepagesz=1G hugepagesz=2M hugepages=1")

    result = host.run(hugepages_1g=1)

    assert result.result["missing"] == ["hugepagesz=1G hugepages=1"]


def test_amd_iommu_and_no_passthrough(host: FakeHost) -> None:
    assert host.run(iommu="amd").result["args"] == ["iommu=pt"]
    result = host.run(iommu="intel", iommu_passthrough=False, hugepages_default_size="1G",
                      hugepages_1g=1)  # fmt: skip
    assert result.result["args"] == [
        "default_hugepagesz=1G", "hugepagesz=1G", "hugepages=1", "intel_iommu=on",
    ]  # fmt: skip


def test_isolation_kinds_and_cpu_lists(host: FakeHost) -> None:
    (host.sys / "devices/system/cpu/present").write_text("0-7\n")
    result = host.run(isolated_cores=[5, 2, 3, 7], isolation=["nohz_full"])
    assert result.result["args"] == ["nohz_full=2-3,5,7"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"hugepages_1g": 4}, "icp_hugepages_1g: 4 x 1 GB + 0 x 2 MB pages = 4096 MB do not fit"),
        ({"hugepages_1g": 3, "hugepages_2m": 300}, "icp_hugepages_1g, icp_hugepages_2m: "),
        ({"hugepages_2m": 2000}, "icp_hugepages_2m: 0 x 1 GB + 2000 x 2 MB pages = 4000 MB"),
        ({"hugepages_2m": -1}, "icp_hugepages_2m: -1 must be 0 or more"),
        ({"iommu": "via"}, "icp_iommu: 'via' is not an IOMMU vendor"),
        ({"isolated_cores": "1-3"}, "icp_isolated_cores: 2-3 not on this host (its CPUs are 0-1)"),
        ({"isolated_cores": [0, 1]}, "icp_isolated_cores: core 0 stays with the system"),
        ({"isolated_cores": "one"}, "icp_isolated_cores: 'one' is not a CPU list"),
        ({"isolated_cores": "1", "isolation": ["isolcpu"]}, "icp_isolation: isolcpu not one of"),
        ({"extra_args": ["quiet splash"]}, "icp_extra_args: 'quiet splash' has a blank"),
        ({"hugepages_default_size": "4M"}, "icp_hugepages_default_size: '4M' is not 1G or 2M"),
    ],
)
def test_bad_input_is_refused_naming_the_variable_before_any_change(
    host: FakeHost, params: dict[str, Any], message: str
) -> None:
    before = host.state()

    result = host.run(var_prefix="icp_", **params)

    assert result.failed
    assert result.result["msg"].startswith(message), result.result["msg"]
    assert result.result["bad_input"] is True
    assert host.state() == before
    assert host.commands == []


def test_1g_pages_need_pdpe1gb(host: FakeHost) -> None:
    (host.proc / "cpuinfo").write_text(CPUINFO_NO_1G)

    result = host.run(hugepages_1g=1)

    assert result.failed
    assert result.result["msg"].startswith("hugepages_1g: 1 pages of 1 GB asked, but this CPU")
    assert not host.dropin.exists()
    assert host.run(hugepages_2m=16).failed is False


def test_failing_update_grub_fails_the_task(host: FakeHost) -> None:
    host.update_rc = 1

    result = host.run(**LAB)

    assert result.failed
    assert "update-grub failed (rc 1): grub-mkconfig: error" in result.result["msg"]
    # The next run regenerates grub.cfg although the drop-in is already in place.
    host.update_rc = 0
    assert host.run(**LAB).result["grub_updated"] is True


def test_a_later_dropin_overriding_the_command_line_is_reported(host: FakeHost) -> None:
    host.override = "quiet"

    result = host.run(**LAB)

    assert result.failed
    assert "lacks hugepagesz=1G hugepages=1" in result.result["msg"]
    assert "GRUB_CMDLINE_LINUX_DEFAULT" in result.result["msg"]


def test_result_is_json_serialisable(host: FakeHost) -> None:
    json.dumps(host.run(**LAB).result)


def test_reports_what_the_kernel_made_of_its_arguments(host: FakeHost) -> None:
    assert host.run(**LAB).result["kernel"] == {"hugepages": {}, "iommus": [], "isolated": ""}
    pages = host.sys / "kernel/mm/hugepages"
    for size, count in (("2048", "256\n"), ("1048576", "1\n")):
        (pages / f"hugepages-{size}kB").mkdir(parents=True)
        (pages / f"hugepages-{size}kB/nr_hugepages").write_text(count)
    (host.sys / "class/iommu/dmar0").mkdir(parents=True)
    (host.sys / "devices/system/cpu/isolated").write_text("1\n")

    kernel = host.run(check_mode=True, **LAB).result["kernel"]

    assert kernel == {
        "hugepages": {"1048576": 1, "2048": 256},
        "iommus": ["dmar0"],
        "isolated": "1",
    }


def test_documentation_matches_the_argument_spec() -> None:
    """ansible-doc parses DOCUMENTATION, and it lists every option with its type and default."""
    check_documentation(
        kernel_cmdline, {"args", "cmdline", "missing", "stale", "reboot_required", "kernel"}
    )
