"""The lxc_test module's logic against a fake LXC (run_command patched) in a temp tree."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.lxcconf import (
    argv_file,
    container_config,
)
from ansible_collections.icperf.lab.plugins.modules.lxc_test import ContainerSet

VETH = {"net": "veth", "socket_dir": "", "hugepages_dir": "", "host_usr": False,
        "prime_peer": True}  # fmt: skip
VHOST = {"net": "empty", "socket_dir": "/run/icperf/vhost", "hugepages_dir": "/dev/hugepages",
         "host_usr": True, "prime_peer": False}  # fmt: skip


def container(name: str, app: str, wiring: dict[str, Any] = VETH, **more: Any) -> dict:
    return {
        "name": name, "app": app, "active": app in ("send", "client"), "cpus": [1, 3],
        "ip": "10.0.3.10", "mac": "02:00:00:00:03:0a", "netmask": 24, "peer_ip": "10.0.3.11",
        "host_veth": f"icpv-{name}", "vf": None, "wiring": wiring,
        "argv": ["/usr/local/bin/icperf", app, "a b", "-t", "5"], **more,
    }  # fmt: skip


class FakeLxc:
    """Records LXC commands; lxc-start writes what the applet would, per a script."""

    def __init__(self, run_dir: Path, outcome: dict[str, Any]) -> None:
        self.run_dir = run_dir
        self.outcome = outcome
        self.calls: list[list[str]] = []
        self.states: dict[str, str] = {}

    def __call__(self, args: list[str]) -> tuple[int, str, str]:
        self.calls.append(args[: args.index("-P")])
        tool, name = args[0], args[args.index("-n") + 1]
        if tool == "lxc-start":
            self.states[name] = "RUNNING"
            app = self.outcome["apps"][name]
            out = self.run_dir / name / f"{name}.{app}.out"
            if self.outcome.get("starts", True):
                out.write_text('{"v":1,"type":"start"}\n', encoding="utf-8")
            else:
                self.states[name] = "STOPPED"
            return 0, "", ""
        if tool == "lxc-info":
            return (0, self.states[name], "") if name in self.states else (1, "", "absent")
        if tool == "lxc-wait":
            if name in self.outcome.get("hung", ()):
                return 1, "", "timeout"
            self.states[name] = "STOPPED"
            for other in self.outcome.get("receivers_die", ()):
                self.states[other] = "STOPPED"
            return 0, "", ""
        if tool == "lxc-stop":
            self.states[name] = "STOPPED"
            return 0, "", ""
        raise AssertionError(f"unexpected command {args}")


class FakeModule:
    def __init__(self, params: dict[str, Any], lxc: FakeLxc) -> None:
        self.params = params
        self.run_command = lxc


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, str]:
    paths = {key: str(tmp_path / key) for key in ("rootfs", "run_dir", "lxcpath")}
    for path in paths.values():
        os.makedirs(path)
    return paths


def handler(tree: dict[str, str], containers: list[dict], outcome: dict[str, Any],
            state: str = "run") -> tuple[ContainerSet, FakeLxc]:  # fmt: skip
    lxc = FakeLxc(Path(tree["run_dir"]), {"apps": {c["name"]: c["app"] for c in containers},
                                          **outcome})  # fmt: skip
    params = {**tree, "containers": containers, "state": state, "link": "icpbr0",
              "duration": 5, "stop_grace": 1, "stop_timeout": 3, "ready_timeout": 1,
              "archive": None, "extra_config": []}  # fmt: skip
    return ContainerSet(FakeModule(params, lxc)), lxc


def write_rc(tree: dict[str, str], name: str, app: str, code: str) -> None:
    Path(tree["run_dir"], name, f"{name}.{app}.rc").write_text(code, encoding="utf-8")


def test_run_starts_receivers_first_and_checks_exit_statuses(
    tree: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = [container("s", "send", VHOST), container("r", "recv", VHOST)]
    test, lxc = handler(tree, pair, {})
    real_stop = test.stop

    def stop_then_exit(c: dict[str, Any]) -> None:
        real_stop(c)
        write_rc(tree, c["name"], c["app"], "0\n")

    monkeypatch.setattr(test, "stop", stop_then_exit)
    monkeypatch.setattr(test, "wait_stopped", lambda c, timeout: (
        write_rc(tree, c["name"], c["app"], "0"), lxc(["lxc-wait", "-n", c["name"], "-P", "x"])
    )[1][0] == 0)  # fmt: skip
    assert test.run() == {"exit_status": {"s.send": 0, "r.recv": 0}}
    starts = [call[2] for call in lxc.calls if call[0] == "lxc-start"]
    assert starts == ["r", "s"]
    assert ["lxc-stop", "-n", "r", "-t", "3"] in lxc.calls
    config = Path(tree["lxcpath"], "s", "config").read_text(encoding="utf-8")
    assert config.startswith("# icperf container s: send (peer 10.0.3.11),")
    argv = Path(tree["run_dir"], "s", "s.send.argv").read_text(encoding="utf-8")
    assert argv.splitlines() == ["/usr/local/bin/icperf", "send", "a b", "-t", "5"]


def test_phases_split_over_two_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test across two hosts: the receivers' host is ready before the senders' host
    starts its senders, returns at once from the senders phase, and its receivers run until
    the finished phase stops them."""
    trees = {}
    for host in ("a", "b"):
        trees[host] = {key: str(tmp_path / host / key) for key in ("rootfs", "run_dir", "lxcpath")}
        for path in trees[host].values():
            os.makedirs(path)
    sender, lxc_a = handler(trees["a"], [container("s", "send", VHOST)], {})
    receiver, lxc_b = handler(trees["b"], [container("r", "recv", VHOST)], {})
    for test, tree in ((sender, trees["a"]), (receiver, trees["b"])):
        real_stop = test.stop

        def stop_then_exit(c: dict[str, Any], real_stop: Any = real_stop,
                           tree: dict[str, str] = tree) -> None:  # fmt: skip
            real_stop(c)
            write_rc(tree, c["name"], c["app"], "0")

        monkeypatch.setattr(test, "stop", stop_then_exit)
    monkeypatch.setattr(sender, "wait_stopped", lambda c, timeout: (
        write_rc(trees["a"], c["name"], c["app"], "0"),
        lxc_a(["lxc-wait", "-n", c["name"], "-P", "x"]),
    )[1][0] == 0)  # fmt: skip
    assert receiver.ready() == {} and sender.ready() == {}
    assert lxc_b.states == {"r": "RUNNING"} and lxc_a.states == {}
    assert receiver.senders() == {}
    assert sender.senders() == {}
    assert lxc_a.states == {"s": "STOPPED"}
    # The receiver still runs while the sender's host finishes, and only stops now.
    assert lxc_b.states == {"r": "RUNNING"}
    assert sender.finished() == {"exit_status": {"s.send": 0}}
    assert receiver.finished() == {"exit_status": {"r.recv": 0}}
    assert ["lxc-stop", "-n", "r", "-t", "3"] in lxc_b.calls
    assert not any(call[0] == "lxc-start" for call in lxc_b.calls[1:])


def test_finished_fails_when_a_receiver_died_before(tree: dict[str, str]) -> None:
    test, lxc = handler(tree, [container("r", "recv", VHOST)], {})
    test.ready()
    lxc.states["r"] = "STOPPED"
    with pytest.raises(RuntimeError, match=r"^r\.recv had stopped before the senders finished"):
        test.finished()


def test_a_receiver_that_ended_early_says_how(tree: dict[str, str]) -> None:
    """Its own duration ran out (with its exit status), or it left no summary at all."""
    pair = [container("r", "recv", VHOST), container("q", "recv", VHOST)]
    test, lxc = handler(tree, pair, {})
    test.ready()
    Path(tree["run_dir"], "r", "r.recv.out").write_text(
        '{"v":1,"type":"start"}\n{"v":1,"type":"summary","rx":9,"reason":"duration"}\n',
        encoding="utf-8",
    )
    write_rc(tree, "r", "recv", "0")
    Path(tree["run_dir"], "q", "q.recv.err").write_text("port 0 up\nbus error\n", "utf-8")
    lxc.states.update(r="STOPPED", q="STOPPED")
    with pytest.raises(RuntimeError) as raised:
        test.finished()
    assert str(raised.value) == (
        "r.recv, q.recv had stopped before the senders finished"
        " (after its own duration of 5 s ran out, exit status 0)"
        " (no summary record, no exit status): bus error"
    )


def test_run_names_every_applet_that_failed(tree: dict[str, str]) -> None:
    pair = [container("s", "send", VHOST), container("r", "recv", VHOST)]
    test, _ = handler(tree, pair, {})
    test.define()
    write_rc(tree, "s", "send", "137")
    assert test.exit_status() == {"s.send": 137, "r.recv": -1}


def test_run_fails_when_a_sender_hangs_or_a_receiver_ended_early(tree: dict[str, str]) -> None:
    pair = [container("s", "send", VHOST), container("r", "recv", VHOST)]
    test, _ = handler(tree, pair, {"hung": ["s"]})
    with pytest.raises(RuntimeError, match=r"^s\.send still running 6 s after it started"):
        test.run()
    test, _ = handler(tree, pair, {"receivers_die": ["r"]})
    with pytest.raises(RuntimeError, match=r"^r\.recv had stopped before the senders finished"):
        test.run()


def test_run_fails_when_a_receiver_never_starts(tree: dict[str, str]) -> None:
    pair = [container("s", "send", VHOST), container("r", "recv", VHOST)]
    test, lxc = handler(tree, pair, {"starts": False})
    with pytest.raises(RuntimeError, match=r"^r\.recv did not start within 1 s"):
        test.run()
    assert [call[2] for call in lxc.calls if call[0] == "lxc-start"] == ["r"]


def test_receivers_veth_must_join_the_switch(tree: dict[str, str]) -> None:
    test, _ = handler(tree, [container("s", "send"), container("r", "recv")], {})
    with pytest.raises(RuntimeError, match=r"^r: host veth icpv-r joined no bridge, not icpbr0"):
        test.run()


def test_collected_packs_the_logs_under_their_results_names(tree: dict[str, str]) -> None:
    import tarfile

    pair = [container("s", "send"), container("r", "recv")]
    test, _ = handler(tree, pair, {})
    test.define()
    for name, app in (("s", "send"), ("r", "recv")):
        Path(tree["run_dir"], name, f"{name}.{app}.out").write_text("{}\n", encoding="utf-8")
    Path(tree["run_dir"], "s", "s.send.err").write_text("oops\n", encoding="utf-8")
    Path(tree["run_dir"], "s", "lxc.log").write_text("warn\n", encoding="utf-8")
    test.p["archive"] = str(Path(tree["run_dir"], "logs.tar"))
    assert test.collected() == {"archive": test.p["archive"]}
    with tarfile.open(test.p["archive"]) as tar:
        assert sorted(tar.getnames()) == [
            "r.recv.jsonl", "s.lxc.log", "s.send.jsonl", "s.send.stderr",
        ]  # fmt: skip


def test_cleanup_removes_only_icperfs_containers(tree: dict[str, str]) -> None:
    for name, first in (("mine", "# icperf container mine: send"), ("theirs", "lxc.uts = x")):
        os.makedirs(Path(tree["lxcpath"], name))
        Path(tree["lxcpath"], name, "config").write_text(first + "\n", encoding="utf-8")
        os.makedirs(Path(tree["run_dir"], name))
    test, lxc = handler(tree, [], {}, state="cleanup")
    lxc.states["mine"] = "RUNNING"
    assert test.cleanup() == {"removed": ["mine"]}
    assert sorted(os.listdir(tree["lxcpath"])) == ["theirs"]
    assert sorted(os.listdir(tree["run_dir"])) == ["theirs"]
    assert ["lxc-stop", "-n", "mine", "-t", "3"] in lxc.calls
    assert test.changed


def test_absent_releases_the_page_files_a_dpdk_applet_left(
    tree: dict[str, str], tmp_path: Path
) -> None:
    """Only <name>map_* of the containers removed, in the hugetlbfs their config binds."""
    pages = tmp_path / "hugepages"
    pages.mkdir()
    for name in ("rmap_0", "rmap_1", "r2map_0", "xmap_0"):
        (pages / name).touch()
    test, _ = handler(tree, [container("r", "recv", {**VHOST, "hugepages_dir": str(pages)})], {},
                      state="absent")  # fmt: skip
    test.define()
    assert test.absent() == {"removed": ["r"]}
    assert sorted(os.listdir(pages)) == ["r2map_0", "xmap_0"]
    assert test.changed


def test_absent_is_idempotent(tree: dict[str, str]) -> None:
    test, lxc = handler(tree, [container("s", "send")], {}, state="absent")
    assert test.absent() == {"removed": ["s"]}
    assert not test.changed
    assert [call[0] for call in lxc.calls] == ["lxc-info"]


def test_config_wiring_per_attachment() -> None:
    paths = {"rootfs": "/var/lib/icperf/rootfs", "run_dir": "/var/lib/icperf/run"}
    veth = container_config(container("s", "send"), paths, "icpbr0").splitlines()
    assert "lxc.net.0.link = icpbr0" in veth
    assert "lxc.net.0.veth.pair = icpv-s" in veth
    assert "lxc.environment = ICPERF_PRIME_PEER=10.0.3.11" in veth
    assert "lxc.cgroup2.cpuset.cpus = 1,3" in veth
    # The argv is not in lxc.init.cmd, whose splitting LXC does its own way.
    assert "lxc.init.cmd = /sbin/icperf-run /results/s.send" in veth
    vhost = container_config(container("s", "send", VHOST), paths).splitlines()
    assert "lxc.net.0.type = empty" in vhost
    mount = "lxc.mount.entry = /run/icperf/vhost run/icperf/vhost none rw,bind,create=dir 0 0"
    assert mount in vhost
    assert "lxc.mount.entry = /usr usr none ro,bind 0 0" in vhost
    assert not [line for line in vhost if "ICPERF_PRIME_PEER" in line]
    phys = container_config(container("s", "recv", {**VETH, "net": "phys"}, vf="enp4s16"), paths)
    assert "lxc.net.0.type = phys\nlxc.net.0.link = enp4s16\n" in phys
    with pytest.raises(IcperfInputError, match=r"^link: container s joins a bridge by veth"):
        container_config(container("s", "send"), paths, "")


def test_argv_file_keeps_every_argument_and_refuses_newlines() -> None:
    assert argv_file(["icperf", "a b", "'q'", '"d"', "$x"]) == "icperf\na b\n'q'\n\"d\"\n$x\n"
    with pytest.raises(IcperfInputError, match=r"^argv\[1\]: 'a\\nb' holds a newline"):
        argv_file(["icperf", "a\nb"])
    with pytest.raises(IcperfInputError, match=r"^argv: \[\] is not a non-empty list"):
        argv_file([])


def test_fetch_archive_unpacks_plain_files_only(tmp_path: Path) -> None:
    import io
    import tarfile

    from ansible.errors import AnsibleActionFail
    from ansible_collections.icperf.lab.plugins.action.fetch_archive import unpack

    def archive(name: str, members: dict[str, bytes], link: str | None = None) -> str:
        path = tmp_path / name
        with tarfile.open(path, "w") as tar:
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            if link:
                info = tarfile.TarInfo(link)
                info.type = tarfile.SYMTYPE
                info.linkname = "/etc/passwd"
                tar.addfile(info)
        return str(path)

    good = archive("good.tar", {"a.send.jsonl": b"{}\n", "a.lxc.log": b"w\n"})
    assert unpack(good, str(tmp_path / "out")) == ["a.send.jsonl", "a.lxc.log"]
    assert (tmp_path / "out" / "a.send.jsonl").read_bytes() == b"{}\n"
    for bad in (archive("up.tar", {"../x": b"x"}), archive("dir.tar", {"d/x": b"x"}),
                archive("link.tar", {}, link="l")):  # fmt: skip
        with pytest.raises(AnsibleActionFail, match=r"^src: .* is not a plain file name"):
            unpack(bad, str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


def test_xdp_containers_keep_the_capabilities_af_xdp_needs() -> None:
    paths = {"rootfs": "/var/lib/icperf/rootfs", "run_dir": "/var/lib/icperf/run"}
    xdp = container_config(container("r", "recv", {**VETH, "xdp": True}), paths, "icpbr0")
    plain = container_config(container("r", "recv"), paths, "icpbr0")
    # An empty drop clears any drop LXC's defaults may hold: CAP_IPC_LOCK exempts the
    # locked frame memory from memlock, CAP_NET_RAW/CAP_NET_ADMIN/CAP_BPF do the rest.
    assert "lxc.cap.drop =" in xdp.splitlines()
    assert "lxc.cap" not in plain
    # Raising memlock would need CAP_SYS_RESOURCE on the host: not asked for.
    settings = [line for line in xdp.splitlines() if not line.startswith("#")]
    assert not [line for line in settings if line.startswith(("lxc.prlimit", "lxc.include"))]
