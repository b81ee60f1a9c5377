"""Lookup plugin: the -e arguments whose words Ansible's key=value parser would drop."""

from __future__ import annotations

from typing import Any

from ansible import context
from ansible.parsing.splitter import parse_kv
from ansible.plugins.lookup import LookupBase
from ansible_collections.icperf.lab.plugins.module_utils.cliargs import stray_tokens

DOCUMENTATION = r"""
name: stray_extra_vars
author: icperf contributors
short_description: The -e arguments whose words Ansible would silently drop
description:
  - Reads the command line's extra variables (C(-e)/C(--extra-vars)) and returns one
    message per key=value argument holding words that belong to no variable, such as
    C(-e "rates=100000 200000"), which Ansible reads as C(rates=100000) without a word.
  - Each message starts with the variable's name and shows the quoting that works.
options: {}
"""

EXAMPLES = r"""
- name: Refuse extra variables cut short
  ansible.builtin.assert:
    that: lookup('icperf.lab.stray_extra_vars', wantlist=True) | length == 0
    fail_msg: "{{ lookup('icperf.lab.stray_extra_vars', wantlist=True) | join('; ') }}"
"""

RETURN = r"""
_raw:
  description: One message per argument with stray words; empty when there is none.
  type: list
  elements: str
"""


class LookupModule(LookupBase):
    """Lookup of the stray words of the command line's extra variables."""

    def run(self, terms: list[Any], variables: Any = None, **kwargs: Any) -> list[str]:
        return stray_tokens(context.CLIARGS.get("extra_vars", ()), parse_kv)
