"""What every icperf.lab filter plugin file shares: the wrapper around plain Python.

The filters' logic lives in plugins/module_utils, raising IcperfInputError whose message
starts with the name of the variable or field at fault; Ansible shows a filter's failure
well only as AnsibleFilterError, so each filter is that logic wrapped by ``input_filter``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError
from ansible_collections.icperf.lab.plugins.module_utils.errors import IcperfInputError


def input_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` as a filter: its input errors become AnsibleFilterError, same message."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except IcperfInputError as error:
            raise AnsibleFilterError(str(error)) from error

    return wrapper
