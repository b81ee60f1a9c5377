#!/usr/bin/python
"""Documentation of the fetch_archive action (plugins/action/fetch_archive.py does the work)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: fetch_archive
short_description: Fetch a tar file from the managed host and unpack it on the controller
description:
  - Copies I(src) from the managed host over the connection (no module runs on the host)
    and unpacks its members into I(dest) on the controller, which is created if needed.
  - Only plain files whose names hold no directory part are accepted; anything else in the
    archive fails the task before a file is written.
  - Used for a test's logs, packed by M(icperf.lab.lxc_test) with C(state=collected), in
    one transfer per test however many containers it has.
version_added: "0.2.0"
author: icperf contributors
options:
  src:
    description: Path of the tar file on the managed host.
    type: path
    required: true
  dest:
    description: Directory on the controller.
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Fetch the logs
  icperf.lab.fetch_archive:
    src: /var/lib/icperf/run/icp0/logs.tar
    dest: "{{ results_dir }}/{{ test.path }}"
"""

RETURN = r"""
files:
  description: Names of the files written into I(dest).
  returned: success
  type: list
  elements: str
"""
