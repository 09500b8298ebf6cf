# -*- coding: utf-8 -*-
# Copyright: mailsec.cloudflare contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Connection, credential, retry and pacing options shared by every module of the collection.
    DOCUMENTATION = r"""
options:
  account_id:
    description:
      - The Cloudflare account identifier, 32 hexadecimal characters.
      - If not set, the environment variable E(CLOUDFLARE_ACCOUNT_ID) is used.
      - Required, through this option or the environment.
      - Whitespace or a line break around the value (as a copy from a console or a file read leaves) is removed
        with a warning. An all-digit id must be quoted in YAML, which would read it as a number.
    type: str
  api_token:
    description:
      - "A Cloudflare API token. Releasing needs the C(Cloud Email Security: Write) permission;
        reading and searching need C(Cloud Email Security: Read) or C(Write)."
      - If none of O(api_token), O(api_email) and O(api_key) is set, the environment variable
        E(CLOUDFLARE_API_TOKEN) is used, and without it E(CLOUDFLARE_EMAIL) and E(CLOUDFLARE_API_KEY).
      - Mutually exclusive with O(api_email) and O(api_key).
      - Never shown in output, logs, warnings or errors, in any form (as given, JSON- or URL-escaped), and never
        echoed by the errors that refuse it.
      - Checked before any request, wherever it comes from; 20 to 256 printable ASCII characters, no whitespace or
        control characters (Cloudflare's tokens have 40). One trailing line break, as C(echo) or a file read
        leaves, is removed with a warning.
    type: str
  api_email:
    description:
      - The email address of the Cloudflare user owning O(api_key), for the legacy global API key.
      - Prefer O(api_token); the global key can do anything the user can.
    type: str
  api_key:
    description:
      - A legacy Cloudflare global API key, used with O(api_email).
      - Never shown in output, logs, warnings or errors; checked as O(api_token) is.
    type: str
  base_url:
    description:
      - The API base URL. If not set, the environment variable E(CLOUDFLARE_BASE_URL) is used, then
        C(https://api.cloudflare.com/client/v4).
      - Point it at the collection's simulator to rehearse a runbook offline.
      - Whitespace or a line break around the value is removed with a warning.
      - A user name or password in the URL is refused. Plain C(http://) is refused unless the host is the
        loopback (C(localhost), C(127.0.0.0/8), C(::1)) or O(allow_insecure=true).
    type: str
  timeout:
    description:
      - Seconds each HTTP request may take, from sending it to the last byte of the answer, however slowly a server
        sends it (connecting takes at most 5 seconds of it). A write cut off at this deadline may still have been
        processed, and is settled by reading, never resent blindly.
    type: float
    default: 30
  task_timeout:
    description:
      - Seconds the whole task may take, waits for the rate limit included. Requests that would start
        later are not sent, and their ids end with an explicit status saying so.
    type: float
    default: 3600
  validate_certs:
    description:
      - Verify the server's TLS certificate. Turn off only for a test endpoint.
      - V(false) towards a host other than the loopback is refused unless O(allow_insecure=true).
      - Wins over the E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) environment variables.
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle file to verify the server's certificate with, for example behind a TLS-inspecting proxy.
      - Wins over the E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) environment variables, which are used only when
        this is not set.
      - Proxies are taken from the E(HTTPS_PROXY), E(HTTP_PROXY) and E(NO_PROXY) environment variables.
    type: path
  allow_insecure:
    description:
      - Allow plain C(http://) in O(base_url), or O(validate_certs=false), towards a host other than the loopback.
        Either exposes the API token to anyone on the network path; every run that uses it warns.
    type: bool
    default: false
    version_added: 1.1.0
  retries:
    description:
      - How many times one request is retried after a rate-limit answer (HTTP 429), a connection that could
        not be made, or, for reads only, a server error (5xx), a timeout or a dropped connection.
      - A release request whose answer is lost is never resent blindly; see the release module's notes.
      - Every retry is reported as a warning saying why.
    type: int
    default: 3
  max_retry_wait:
    description:
      - The longest wait, in seconds, before one retry. A C(Retry-After) longer than this (a rate-limit
        lockout lasts 5 minutes) fails the request with a message saying how long the lockout lasts.
    type: float
    default: 60
  rate_limit:
    description:
      - Cloudflare allows 1200 requests per 5 minutes per token across the dashboard and the API, locks the token
        out for 5 minutes beyond that, and announces what is left on every answer in its C(Ratelimit) header.
      - When this option is not set, that announcement is the budget. The task spends it down to a reserve (the
        requests O(concurrency) may have in flight, and a 25th of the quota, 48 of Cloudflare's 1200, for people
        working in the dashboard), counting every request sent since the last answer, then every request waits
        until that window resets. While no
        count is known (before the first answer, just after a window resets, or from a server that announces
        none) the budget is 1000 requests in any 5-minute window.
      - When set, it is a ceiling always, the most requests this task sends in any 5-minute window, on top of
        the announced count. Values above 1200 are for accounts with a raised limit. Since 1.2.0; before,
        1000 was the ceiling whatever Cloudflare announced.
      - The budget is shared by every module process on the same machine that uses the same credential
        (forks, C(loop), parallel playbooks), through a file in O(state_dir) named by a hash of the
        credential, never the credential itself; with O(state_backend=postgresql), by every process on every
        machine that shares the database, through a row keyed by that hash.
      - A stricter quota announced in C(Ratelimit-Policy) is obeyed as well. The first pause of each kind is a
        warning, and a line on the controller's output says its length and reason as it begins; the summary
        counts them all.
    type: int
  concurrency:
    description:
      - How many requests are in flight at once (batches and message reads), from 1 to 32, all inside the
        rate-limit pacing and over one pool of keep-alive connections.
    type: int
    default: 4
  state_dir:
    description:
      - A directory on the machine the module runs on (usually the controller) for the shared request budget,
        and, for every module that writes (release, bulk release, submission, allow policy, trusted domain), the
        journal of requests in flight and the per-account lock.
      - If not set, the environment variable E(MAILSEC_CLOUDFLARE_STATE_DIR) is used, then
        C(~/.local/state/mailsec.cloudflare).
      - On AWX or Automation Platform, each job runs in a fresh container; point this at a persistent volume
        for the journal to carry over between jobs, or use O(state_backend=postgresql).
      - Not used with O(state_backend=postgresql).
    type: path
    version_added: 1.1.0
  state_backend:
    description:
      - Where the journal of requests in flight, the per-account lock and the shared request budget are kept.
      - V(local) keeps them in files in O(state_dir), shared by the runs on one machine only.
      - V(postgresql) keeps them in the PostgreSQL database of O(state_dsn), shared by every machine that reaches it
        (AWX execution nodes, container-group pods, event source restarts). The lock is a lease row per account,
        the journal and budget are tables named C(mailsec_cloudflare_*), created on first use. A run proves,
        before each write request and in the transaction of its journal entry, that it still holds the lease, and
        writes nothing when it cannot write the journal.
        Needs the Python library C(psycopg) (C(psycopg[binary])) where the module runs.
      - If not set, the environment variable E(MAILSEC_CLOUDFLARE_STATE_BACKEND) is used, then V(local).
    type: str
    choices: [local, postgresql]
    version_added: 1.2.0
  state_dsn:
    description:
      - The libpq connection URI or key/value string of the state database, for example
        C(postgresql://mailsec@db.example:5432/awx?sslmode=verify-full), used with O(state_backend=postgresql).
        The user needs C(CREATE) on the schema the first time (or the tables created beforehand by their owner),
        then C(SELECT), C(INSERT), C(UPDATE) and C(DELETE) on them.
      - A database of the collection's own, not the automation platform's. Reached directly, or through a
        connection pooler in session or transaction mode (PgBouncer, RDS Proxy, a managed pooler); a pooler in
        statement mode is refused before any request, since it allows no transaction.
      - The DSN and its password never appear in output, logs, errors or diffs. Prefer a password from
        E(PGPASSWORD) or C(~/.pgpass) or an AWX credential that injects E(MAILSEC_CLOUDFLARE_STATE_DSN).
      - If not set, the environment variable E(MAILSEC_CLOUDFLARE_STATE_DSN) is used.
    type: str
    version_added: 1.2.0
requirements:
  - requests (Python library)
  - psycopg 3 (Python library), only with O(state_backend=postgresql)
notes:
  - The API token and key are marked C(no_log) and removed from every text the module returns, including
    error messages from servers or proxies that echo request headers back.
  - E(ANSIBLE_DEBUG=1) makes Ansible itself print every module argument, C(no_log) ones included (see Ansible's
    C(DEFAULT_DEBUG) setting). Give the token through E(CLOUDFLARE_API_TOKEN), as AWX credentials do, when debug
    output may be shared.
  - The modules talk to an HTTP API, so they usually run on the controller, in a play against C(localhost)
    or with C(delegate_to=localhost).
"""

    ACTION_GROUP = r"""
attributes:
  action_group:
    description: Use C(group/mailsec.cloudflare.email_security) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - mailsec.cloudflare.email_security
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
    details:
      - The action plugin runs the module and, when the module runs on the controller (the C(local) connection, as
        a play on C(localhost) or a task delegated to it has) and not through C(async), prints what the module
        waits for while it waits, at default verbosity; a bulk job's counts, an unsure write's settle window, a
        rate-limit pause with its reason and how much of it is left, another run's account lock. Credentials are
        masked in these lines as everywhere. On any other connection the module runs as without it.
"""
