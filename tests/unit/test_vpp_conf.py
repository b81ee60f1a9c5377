"""vswitch_vpp without VPP: its plan, its rendered startup.conf and exec script checked
against VPP's grammar, and the counters it reads.

VPP cannot be installed on the test machine, so the grammar is VPP's own, transcribed
from the release the role pins (25.10, FD.io's vpp repository at tag v25.10):

- startup.conf: ``vpp -c FILE`` splits the file into words at blanks, a word starting with
  ``#`` ending the line (src/vpp/vnet/main.c); each section is ``NAME { ... }`` and its
  words are read by the section's configuration function: unix_config
  (src/vlib/unix/main.c), cpu_config (src/vlib/threads.c), vlib_buffers_configure
  (src/vlib/buffer.c), dpdk_config (src/plugins/dpdk/device/init.c), plugins_config
  (src/vlib/unix/plugin.c);
- the exec script: one CLI command per line, as each command's parser reads it: "create
  bridge-domain" (src/vnet/l2/l2_bd.c), "create vhost-user" (src/plugins/vhost/vhost_user.c),
  "set interface l2 bridge" (src/vnet/l2/l2_input.c), "set interface state"
  (src/vnet/interface_cli.c).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.icperf.lab.plugins.filter.icperf_switches import FilterModule
from ansible_collections.icperf.lab.plugins.module_utils import vppconf
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError
from ansible_collections.icperf.lab.plugins.module_utils.labfile import lab_containers

ROLE = Path(__file__).resolve().parents[2] / "roles" / "vswitch_vpp"
SOCKS = "/run/icperf/vhost"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))

# --- startup.conf grammar (VPP 25.10) ------------------------------------------------
_INT = r"\d+"
_WORD = r"[^\s{}]+"
_PCI = r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"
# unformat_bitmap_list: numbers and ranges, comma-separated.
_CORELIST = r"\d+(-\d+)?(,\d+(-\d+)?)*"
# Per section: keyword -> pattern of the words it takes (None: a flag).
STARTUP_GRAMMAR: dict[str, dict[str, str | None]] = {
    "unix": {
        "interactive": None, "nodaemon": None, "nosyslog": None, "nocolor": None,
        "nobanner": None, "cli-line-mode": None, "cli-no-banner": None, "cli-no-pager": None,
        "full-coredump": None, "use-current-dir": None,
        "cli-prompt": _WORD, "cli-listen": _WORD, "runtime-dir": _WORD,
        "poll-sleep-usec": _INT, "cli-pager-buffer-limit": _INT, "cli-history-limit": _INT,
        "startup-config": _WORD, "exec": _WORD, "log": _WORD, "gid": _WORD, "pidfile": _WORD,
    },
    "cpu": {
        "main-core": _INT, "skip-cores": _INT, "workers": _INT, "relative": None,
        "use-pthreads": None, "corelist-workers": _CORELIST, "scheduler-policy": _WORD,
        "scheduler-priority": _INT, "thread-prefix": _WORD,
    },
    "buffers": {"buffers-per-numa": _INT, "page-size": _WORD},
    "dpdk": {
        "no-pci": None, "no-hugetlb": None, "no-multi-seg": None, "no-tx-checksum-offload": None,
        "socket-mem": _WORD, "uio-driver": _WORD,
    },
}  # fmt: skip
# dpdk { dev PCI { ... } }: the device's own settings.
DPDK_DEV_GRAMMAR: dict[str, str | None] = {
    "name": _WORD, "num-rx-queues": _INT, "num-tx-queues": _INT, "num-rx-desc": _INT,
    "num-tx-desc": _INT, "tag": _WORD, "devargs": _WORD, "no-rx-interrupts": None,
}  # fmt: skip
PLUGIN_SETTINGS = {"enable", "disable", "skip-version-check"}


def _words(text: str) -> list[str]:
    words: list[str] = []
    for line in text.splitlines():
        for word in line.split():
            if word.startswith("#"):
                break
            words.append(word)
    return words


def _block(words: list[str], at: int) -> tuple[list[str], int]:
    """The words between the brace at ``at`` and its match, and the index after it."""
    assert words[at] == "{", f"expected '{{' at word {at}, found {words[at]!r}"
    depth, end = 0, at
    for end in range(at, len(words)):
        depth += {"{": 1, "}": -1}.get(words[end], 0)
        if depth == 0:
            return words[at + 1 : end], end + 1
    raise AssertionError("unbalanced braces")


def _settings(words: list[str], grammar: dict[str, str | None], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    at = 0
    while at < len(words):
        key = words[at]
        assert key in grammar, f"{where}: VPP does not know {key!r}"
        pattern = grammar[key]
        if pattern is None:
            found[key] = ""
            at += 1
            continue
        value = words[at + 1]
        assert re.fullmatch(pattern, value), f"{where} {key}: {value!r} is not {pattern}"
        found[key] = value
        at += 2
    return found


def parse_startup_conf(text: str) -> dict[str, Any]:
    """startup.conf as VPP 25.10 reads it; fails on anything VPP would refuse."""
    words = _words(text)
    sections: dict[str, Any] = {}
    at = 0
    while at < len(words):
        name = words[at]
        body, at = _block(words, at + 1)
        assert name not in sections, f"section {name} given twice"
        if name == "plugins":
            plugins, i = {}, 0
            while i < len(body):
                assert body[i] == "plugin", f"plugins: VPP does not know {body[i]!r}"
                plugin = body[i + 1]
                settings, i = _block(body, i + 2)
                assert set(settings) <= PLUGIN_SETTINGS, f"plugin {plugin}: {settings}"
                plugins[plugin] = settings
            sections[name] = plugins
        elif name == "dpdk":
            devices, rest, i = {}, [], 0
            while i < len(body):
                if body[i] == "dev":
                    pci = body[i + 1]
                    assert re.fullmatch(_PCI, pci), f"dpdk dev: {pci!r} is not a PCI address"
                    device, i = _block(body, i + 2)
                    devices[pci] = _settings(device, DPDK_DEV_GRAMMAR, f"dpdk dev {pci}")
                else:
                    rest.append(body[i])
                    i += 1
            sections[name] = {"dev": devices, **_settings(rest, STARTUP_GRAMMAR[name], name)}
        else:
            assert name in STARTUP_GRAMMAR, f"VPP has no section {name!r} here"
            sections[name] = _settings(body, STARTUP_GRAMMAR[name], name)
    return sections


# --- CLI grammar of the exec script (VPP 25.10) -------------------------------------
_IFNAME = r"[A-Za-z][\w./-]*"
CLI_GRAMMAR = {
    "create bridge-domain": re.compile(
        r"create bridge-domain (?P<bd>\d+)( (learn|forward|uu-flood|flood|arp-term|arp-ufwd) [01]"
        r"| mac-age \d+| bd-tag \S+)*"
    ),
    "create vhost-user": re.compile(
        r"create vhost-user socket (?P<sock>/\S+)( server| gso| packed| event-idx"
        r"| feature-mask 0x[0-9a-fA-F]+| hwaddr [0-9a-f:]{17}| renumber (?P<instance>\d+))*"
    ),
    "set interface l2 bridge": re.compile(
        rf"set interface l2 bridge (?P<ifname>{_IFNAME}) (?P<bd>\d+)( bvi| uu-fwd)?( \d+)?"
    ),
    "set interface state": re.compile(
        rf"set interface state (?P<ifname>{_IFNAME}) (up|down|punt|enable)"
    ),
}


def check_exec_script(text: str, nics: tuple[str, ...] = ()) -> list[tuple[str, dict[str, Any]]]:
    """Each line is a VPP command; names and domains are used only after their creation."""
    commands = []
    domains: set[str] = set()
    interfaces = set(nics)
    sockets: set[str] = set()
    for line in text.splitlines():
        if not line.strip():
            continue
        command = next((c for c in CLI_GRAMMAR if line.startswith(c + " ")), None)
        assert command, f"not a VPP command: {line!r}"
        match = CLI_GRAMMAR[command].fullmatch(line)
        assert match, f"{command}: VPP cannot read {line!r}"
        fields = match.groupdict()
        if command == "create bridge-domain":
            assert fields["bd"] != "0", "bridge domain 0 can not be modified"
            domains.add(fields["bd"])
        elif command == "create vhost-user":
            assert " server" in line, "VPP must be the server: the containers connect"
            assert fields["sock"] not in sockets, f"{fields['sock']} created twice"
            sockets.add(fields["sock"])
            # Without renumber, the name would depend on the interfaces already there.
            assert fields["instance"] is not None, f"no renumber: {line!r}"
            interfaces.add(f"VirtualEthernet0/0/{fields['instance']}")
        else:
            assert fields["ifname"] in interfaces, f"{fields['ifname']} used before it exists"
            if fields.get("bd") is not None:
                assert fields["bd"] in domains, f"bridge domain {fields['bd']} not created"
        commands.append((command, fields))
    return commands


def render(template: str, **variables: Any) -> str:
    """A role template as the template module renders it (trim_blocks, FQCN filters)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    for name, function in FilterModule().filters().items():
        env.filters[f"icperf.lab.{name}"] = function
    context = {**DEFAULTS, "ansible_managed": "Ansible managed", **variables}
    return env.get_template(template).render(context)


def ports(pairs: int = 1) -> list[dict[str, Any]]:
    return lab_containers({"pairs": pairs}, 4, [0], 2, "vpp", SOCKS)


def plan(pairs: int = 1, **kwargs: Any) -> dict[str, Any]:
    return vppconf.vpp_plan(ports(pairs), kwargs.pop("cores", [2, 3]), **kwargs)


def test_plan_names_each_interface_after_its_position() -> None:
    assert plan(2, main_core=1) == {
        "main_core": 1,
        "workers": "2-3",
        "bridge_domain": 1,
        "interfaces": [
            {"container": f"icp{i}", "sock": f"{SOCKS}/icp{i}.sock", "instance": i,
             "ifname": f"VirtualEthernet0/0/{i}"}
            for i in range(4)
        ],
        "physical": [],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("cores", "workers"),
    [([1], "1"), ([3, 1, 2], "1-3"), ([1, 3], "1,3"), ([1, 2, 5, 6, 7, 9], "1-2,5-7,9")],
)
def test_worker_cores_become_a_corelist(cores: list[int], workers: str) -> None:
    assert vppconf.vpp_plan(ports(), cores)["workers"] == workers


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cores": []}, r"^icperf_vswitch_cores: \[\] must list"),
        ({"cores": [1, 1]}, r"^icperf_vswitch_cores: \[1, 1\] lists a core twice"),
        ({"cores": ["x"]}, r"^icperf_vswitch_cores\[0\]: 'x'"),
        ({"main_core": 2}, r"^vswitch_vpp_main_core: core 2 is also a worker core"),
        ({"main_core": -1}, r"^vswitch_vpp_main_core: -1"),
        ({"bridge_domain": 0}, r"^vswitch_vpp_bridge_domain: 0 must be an integer between 1"),
        ({"physical_ports": [{"pci": "04:00.0", "name": "eth 1"}]},
         r"^vswitch_vpp_physical_ports\[0\].name: 'eth 1'"),
        ({"physical_ports": [{"pci": "nope", "name": "eth1"}]},
         r"^vswitch_vpp_physical_ports\[0\].pci: 'nope'"),
        ({"physical_ports": ["0000:04:00.0"]}, r"^vswitch_vpp_physical_ports\[0\]: '0000"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused_naming_the_variable(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IcperfInputError, match=message):
        plan(**kwargs)


def test_bad_ports_are_refused_naming_the_field() -> None:
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_ports: \[\] must list"):
        vppconf.vpp_plan([], [1])
    twice = ports()
    twice[1]["sock"] = twice[0]["sock"]
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_ports\[1\].sock: .* icp0's"):
        vppconf.vpp_plan(twice, [1])
    spaced = ports()
    spaced[0]["sock"] = "/run/a b.sock"
    with pytest.raises(IcperfInputError, match=r"^icperf_vswitch_ports\[0\].sock: .* one word"):
        vppconf.vpp_plan(spaced, [1])


def test_startup_conf_is_vpp_grammar_and_carries_the_plan() -> None:
    text = render("startup.conf.j2", vswitch_vpp_plan=plan(2, main_core=1))
    conf = parse_startup_conf(text)
    assert conf["unix"] == {
        "nodaemon": "",
        "log": DEFAULTS["vswitch_vpp_cli_log"],
        "cli-listen": DEFAULTS["vswitch_vpp_cli_socket"],
        "exec": DEFAULTS["vswitch_vpp_exec_script"],
        "gid": "vpp",
    }
    assert conf["cpu"] == {"main-core": "1", "corelist-workers": "2-3"}
    assert conf["buffers"] == {"buffers-per-numa": "16384"}
    # No NIC: DPDK stays out and takes no device of the host.
    assert conf["plugins"] == {"dpdk_plugin.so": ["disable"]}
    assert "dpdk" not in conf


def test_startup_conf_gives_dpdk_the_nics_for_two_hosts() -> None:
    nics = [{"pci": "04:00.0", "name": "eth1"}, {"pci": "0000:04:00.1", "name": "eth2"}]
    text = render(
        "startup.conf.j2", vswitch_vpp_plan=plan(1, physical_ports=nics), vswitch_vpp_group=""
    )
    conf = parse_startup_conf(text)
    assert conf["dpdk"]["dev"] == {
        "0000:04:00.0": {"name": "eth1"},
        "0000:04:00.1": {"name": "eth2"},
    }
    assert "plugins" not in conf
    assert "gid" not in conf["unix"]


def test_the_grammar_check_refuses_what_vpp_refuses() -> None:
    for text, message in [
        ("cpu { main-core one }", r"main-core: 'one'"),
        ("cpu { corelist-workers 1- }", r"corelist-workers: '1-'"),
        ("unix { daemon }", r"unix: VPP does not know 'daemon'"),
        ("vhost { x }", r"VPP has no section 'vhost'"),
        ("dpdk { dev 4:0.0 { name x } }", r"dpdk dev: '4:0.0'"),
        ("plugins { plugin a.so { off } }", r"plugin"),
        ("cpu { main-core 1", r"unbalanced"),
    ]:
        with pytest.raises(AssertionError, match=message):
            parse_startup_conf(text)


def test_exec_script_builds_a_learning_bridge_domain_of_every_port() -> None:
    the_plan = plan(2, bridge_domain=7)
    text = render("exec.j2", vswitch_vpp_plan=the_plan)
    commands = check_exec_script(text)
    assert [command for command, _ in commands] == (
        ["create bridge-domain"] + ["create vhost-user"] * 4
        + ["set interface l2 bridge", "set interface state"] * 4
    )  # fmt: skip
    domain = commands[0][1]
    assert domain["bd"] == "7"
    assert "learn 1 forward 1 uu-flood 1 flood 1" in text.splitlines()[0]
    created = [fields["sock"] for command, fields in commands if command == "create vhost-user"]
    assert created == [f"{SOCKS}/icp{i}.sock" for i in range(4)]
    joined = [f["ifname"] for c, f in commands if c == "set interface l2 bridge"]
    up = [f["ifname"] for c, f in commands if c == "set interface state"]
    assert joined == up == [i["ifname"] for i in the_plan["interfaces"]]


def test_exec_script_joins_the_nics_to_the_domain() -> None:
    the_plan = plan(1, physical_ports=[{"pci": "0000:04:00.0", "name": "eth1"}])
    commands = check_exec_script(render("exec.j2", vswitch_vpp_plan=the_plan), nics=("eth1",))
    assert ("set interface l2 bridge", {"ifname": "eth1", "bd": "1"}) in commands
    assert ("set interface state", {"ifname": "eth1"}) in commands


def test_the_exec_check_refuses_what_vpp_would_refuse() -> None:
    for text, message in [
        ("create vhost-user socket /a.sock renumber 0", "VPP must be the server"),
        ("create vhost-user socket /a.sock server", "no renumber"),
        ("set interface state VirtualEthernet0/0/0 up", "used before it exists"),
        ("create bridge-domain 0", "can not be modified"),
        ("create vhost-user socket /a.sock server renumber 0\n"
         "set interface l2 bridge VirtualEthernet0/0/0 1", "bridge domain 1 not created"),
        ("create bridge-domain 1 learn yes", "VPP cannot read"),
        ("show version", "not a VPP command"),
    ]:  # fmt: skip
        with pytest.raises(AssertionError, match=message):
            check_exec_script(text)


def test_dropin_points_the_packaged_unit_at_the_test_config() -> None:
    text = render("dropin.conf.j2")
    service = [line for line in text.splitlines() if line and not line.startswith("#")]
    # An empty ExecStart= clears the packaged one before the new one is given.
    assert service == [
        "[Service]",
        "ExecStart=",
        f"ExecStart={DEFAULTS['vswitch_vpp_binary']} -c {DEFAULTS['vswitch_vpp_startup_conf']}",
        "Restart=no",
    ]


def test_fdio_repository_of_the_pinned_release() -> None:
    variables = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    facts = {"distribution": "Debian", "distribution_release": "bookworm"}
    context: dict[str, Any] = {**DEFAULTS, "ansible_facts": facts}
    for name in ("vswitch_vpp_repo_base", "vswitch_vpp_repo_key_url"):
        context[name] = env.from_string(DEFAULTS[name]).render(context)
    uri = env.from_string(variables["vswitch_vpp_repo_uri"]).render(context)
    suite = env.from_string(variables["vswitch_vpp_repo_suite"]).render(context)
    # packagecloud's layout: <owner>/<repository>/<distribution>/ <suite> main
    assert (uri, suite) == ("https://packagecloud.io/fdio/2510/debian/", "bookworm")
    assert context["vswitch_vpp_repo_key_url"] == "https://packagecloud.io/fdio/2510/gpgkey"


# vppctl show interface, as FD.io's documentation shows it (docs/usecases/vpp_testbench),
# and with a test's vhost-user interfaces.
SHOW_INTERFACE_DOC = """\
              Name               Idx    State  MTU (L3/IP4/IP6/MPLS)     Counter          Count
local0                            0     down          0/0/0/0
memif0/0                          1      up          9000/0/0/0     rx packets                     7
                                                                    rx bytes                     521
                                                                    tx packets                     7
                                                                    tx bytes                     503
tap0                              2      up          9000/0/0/0     rx packets                     7
"""
SHOW_INTERFACE_TEST = """\
              Name               Idx    State  MTU (L3/IP4/IP6/MPLS)     Counter          Count
VirtualEthernet0/0/0              1      up          9000/0/0/0     rx packets               1000000
                                                                    rx bytes                64000000
                                                                    drops                          3
VirtualEthernet0/0/1              2      up          9000/0/0/0     tx packets                999997
                                                                    tx bytes                63999808
local0                            0     down          0/0/0/0
"""


def test_interface_counters_are_read_per_interface_and_per_container() -> None:
    assert vppconf.vpp_interface_counters(SHOW_INTERFACE_DOC) == {
        "local0": {},
        "memif0/0": {"rx packets": 7, "rx bytes": 521, "tx packets": 7, "tx bytes": 503},
        "tap0": {"rx packets": 7},
    }
    assert vppconf.vpp_interface_counters(SHOW_INTERFACE_TEST, plan(1)) == {
        "icp0": {"rx packets": 1000000, "rx bytes": 64000000, "drops": 3},
        "icp1": {"tx packets": 999997, "tx bytes": 63999808},
    }


def test_interface_counters_refuse_other_output() -> None:
    with pytest.raises(IcperfInputError, match=r"^counters: 'unknown input' is not"):
        vppconf.vpp_interface_counters("unknown input")
    with pytest.raises(IcperfInputError, match=r"^counters: 'rx packets x' is not a counter"):
        vppconf.vpp_interface_counters("a 1 up 9000/0/0/0\n   rx packets x")
    with pytest.raises(AnsibleFilterError, match=r"^plan: "):
        FilterModule().filters()["vpp_interface_counters"](SHOW_INTERFACE_DOC, {"x": 1})
