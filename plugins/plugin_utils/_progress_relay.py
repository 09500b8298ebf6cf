# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The action plugin in front of every module: runs the module and prints, as they come, the lines it writes while
it waits (module_utils/_api/progress.py), so that a bulk job of 100,000 messages or a five-minute rate-limit pause is
not a silent task.

The lines reach the controller through a file, so only a module that runs on the controller (the ``local``
connection, as ``hosts: localhost`` and ``delegate_to: localhost`` have it) can say them; on any other connection,
and with ``async``, the module runs exactly as without this plugin.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import tempfile
import threading

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display
from ansible.utils.vars import merge_hash

from ansible_collections.mailsec.cloudflare.plugins.module_utils._api.progress import ENV_PROGRESS_FILE

display = Display()

# How often the file is looked at: a line is printed at most this long after the module wrote it.
_FOLLOW_SECONDS = 0.5


class ProgressRelayAction(ActionBase):
    """Runs the task's module; on the controller, prints its progress lines while it runs."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(ProgressRelayAction, self).run(tmp, task_vars)
        del tmp  # has no effect any more, as in ansible.builtin.normal
        wrap_async = self._task.async_val and not self._connection.has_native_async
        if wrap_async or self._connection.transport != "local":
            module_result = self._execute_module(task_vars=task_vars, wrap_async=wrap_async)
        else:
            host = (task_vars or {}).get("inventory_hostname", "localhost")
            with _Relay(lambda line: display.display("[%s] %s" % (host, line))) as relay:
                module_result = self._with_progress_file(relay.path, task_vars)
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return merge_hash(result, module_result)

    def _with_progress_file(self, path, task_vars):
        # The local connection runs the module as a child of this worker process, which ends with the task: the
        # variable reaches this task's module and nothing else.
        earlier = os.environ.get(ENV_PROGRESS_FILE)
        os.environ[ENV_PROGRESS_FILE] = path
        try:
            return self._execute_module(task_vars=task_vars)
        finally:
            if earlier is None:
                os.environ.pop(ENV_PROGRESS_FILE, None)
            else:
                os.environ[ENV_PROGRESS_FILE] = earlier


class _Relay:
    """A private file the module appends lines to, and a thread printing each complete line as it arrives."""

    def __init__(self, say):
        self._say = say
        self._directory = tempfile.mkdtemp(prefix="mailsec-cloudflare-progress-")
        self.path = os.path.join(self._directory, "progress")
        with open(self.path, "w", encoding="utf-8"):
            pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="mailsec-cloudflare-progress", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        shutil.rmtree(self._directory, ignore_errors=True)

    def _follow(self):
        partial = ""
        with open(self.path, encoding="utf-8", errors="replace") as source:
            while True:
                stopping = self._stop.wait(_FOLLOW_SECONDS)
                lines = (partial + source.read()).split("\n")
                partial = lines.pop()
                for line in lines:
                    if line.strip():
                        self._say(line)
                if stopping:
                    return
