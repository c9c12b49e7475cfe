"""Nova's policy rules, checked by oslo.policy, the engine Nova uses.

The defaults are Nova's Mitaka ``etc/nova/policy.json`` (13.0.0) values for the rules the
embedded API checks.  They test the ``is_admin`` flag rather than roles, which is what makes
them work with noauth2 tokens (see :mod:`simstatus.api.auth`).

Rules come in layers, later wins rule by rule: Nova defaults < a scenario's ``[nova.policy]``
table < a policy file (YAML or JSON, as oslo.policy reads it) < command-line ``RULE=CHECK``
strings.  :func:`load_policy` merges the layers and :class:`Policy` owns one enforcer with
the result; a :class:`Policy` is immutable after construction, so its check results are
memoised.  Nothing here is process-global: each :class:`Policy` has its own ``ConfigOpts``
and ``Enforcer``, and neither ever reads ``sys.argv``, the environment or ``/etc``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import yaml
from oslo_config import cfg
from oslo_policy import _checks
from oslo_policy import policy as oslo_policy

from .auth import RequestContext
from .faults import NovaFault

__all__ = [
    "ADMIN_API",
    "ADMIN_OR_OWNER",
    "ALLOW_ALL_FILTERS",
    "ALL_TENANTS_DETAIL",
    "ALL_TENANTS_INDEX",
    "CONTEXT_IS_ADMIN",
    "DEFAULT",
    "EXTENDED_ATTRIBUTES",
    "HOST_STATUS",
    "HOST_STATUS_UNKNOWN_ONLY",
    "NFV_RULES",
    "NOVA_DEFAULTS",
    "OS_SERVICES",
    "SERVERS_DETAIL",
    "SERVERS_INDEX",
    "SERVERS_SHOW",
    "HostStatusVisibility",
    "Policy",
    "PolicyError",
    "load_policy",
    "policy_layers",
]

CONTEXT_IS_ADMIN = "context_is_admin"
ADMIN_OR_OWNER = "admin_or_owner"
ADMIN_API = "admin_api"
#: oslo.policy's ``policy_default_rule``: what an unknown rule name is checked against.
DEFAULT = "default"
SERVERS_INDEX = "os_compute_api:servers:index"
SERVERS_DETAIL = "os_compute_api:servers:detail"
SERVERS_SHOW = "os_compute_api:servers:show"
HOST_STATUS = "os_compute_api:servers:show:host_status"
HOST_STATUS_UNKNOWN_ONLY = "os_compute_api:servers:show:host_status:unknown-only"
ALL_TENANTS_DETAIL = "os_compute_api:servers:detail:get_all_tenants"
ALL_TENANTS_INDEX = "os_compute_api:servers:index:get_all_tenants"
ALLOW_ALL_FILTERS = "os_compute_api:servers:allow_all_filters"
OS_SERVICES = "os_compute_api:os-services"
EXTENDED_ATTRIBUTES = "os_compute_api:os-extended-server-attributes"

#: Nova's Mitaka defaults.  ``unknown-only`` (Ussuri) and ``allow_all_filters`` (Stein) are
#: later rules, given the same admin-only meaning so that the Mitaka behaviour is unchanged.
NOVA_DEFAULTS: Mapping[str, str] = MappingProxyType({
    CONTEXT_IS_ADMIN: "role:admin",
    ADMIN_OR_OWNER: "is_admin:True or project_id:%(project_id)s",
    ADMIN_API: "is_admin:True",
    DEFAULT: "rule:admin_or_owner",
    SERVERS_INDEX: "rule:admin_or_owner",
    SERVERS_DETAIL: "rule:admin_or_owner",
    SERVERS_SHOW: "rule:admin_or_owner",
    HOST_STATUS: "rule:admin_api",
    HOST_STATUS_UNKNOWN_ONLY: "rule:admin_api",
    ALL_TENANTS_DETAIL: "is_admin:True",
    ALL_TENANTS_INDEX: "is_admin:True",
    ALLOW_ALL_FILTERS: "is_admin:True",
    OS_SERVICES: "rule:admin_api",
    EXTENDED_ATTRIBUTES: "rule:admin_api",
})

#: The override an NFV operator applies so tenants see their own servers' host status.
NFV_RULES: Mapping[str, str] = MappingProxyType({HOST_STATUS: "rule:admin_or_owner"})

HostStatusVisibility = Literal["all", "unknown-only", "none"]

#: Memo entries kept before the memo is emptied; bounds memory in long simulations.
_MEMO_LIMIT = 1 << 16
#: oslo.policy's tokenizer splits check strings on whitespace (``_parser._tokenize_re``).
_WHITESPACE = re.compile(r"\s+")
#: The check kinds evaluated in-process from the target and credentials alone.  oslo.policy
#: also loads ``http:``/``https:`` (``_external``: POSTs target and credentials to a URL) and
#: any check a package registers under the ``oslo.policy.rule_checks`` entry point; a scenario
#: must never make simstatus call out, so every kind not listed here is refused.  Exact types:
#: ``HttpCheck`` is a ``Check`` subclass too.
_LOCAL_CHECKS: frozenset[type] = frozenset({
    _checks.TrueCheck,     # @
    _checks.FalseCheck,    # !
    _checks.NotCheck,      # not ...
    _checks.AndCheck,      # ... and ...
    _checks.OrCheck,       # ... or ...
    _checks.RuleCheck,     # rule:NAME
    _checks.RoleCheck,     # role:NAME
    _checks.GenericCheck,  # field:value, %(target)s:value, literal:value
})


class PolicyError(ValueError):
    """Policy input that cannot be used; the message is one line naming the source."""


class _Capture(logging.Filter):
    """Collects and swallows the records oslo.policy's parser logs for a bad check string."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.messages.append(record.getMessage())
        return False


def _nodes(check: object) -> Iterator[object]:
    """Every node of a parsed check tree (And/Or hold ``rules``, Not holds ``rule``)."""
    yield check
    for child in getattr(check, "rules", ()):
        yield from _nodes(child)
    child = getattr(check, "rule", None)
    if child is not None:
        yield from _nodes(child)


def _parse(name: str, check_str: str, source: str) -> object:
    """Parse one check string, raising on anything oslo.policy would quietly turn into ``!``.

    oslo.policy never rejects a check string: it logs "Failed to understand rule" (to stderr
    when logging is unconfigured) and substitutes a deny-all ``FalseCheck``, whole or in part.
    The parser's log records are captured, and dropped, only while parsing; counting ``!``
    leaves against ``!`` tokens backs that up when logging is disabled.
    """
    logger = logging.getLogger("oslo_policy._parser")
    capture = _Capture()
    logger.addFilter(capture)
    try:
        check = oslo_policy.Rules.from_dict({name: check_str})[name]
    finally:
        logger.removeFilter(capture)
    bangs = sum(1 for tok in _WHITESPACE.split(check_str) if tok.strip("()") == "!")
    false_leaves = sum(1 for node in _nodes(check) if str(node) == "!")
    if capture.messages or false_leaves > bangs:
        raise PolicyError(f"{source}: rule {name!r}: cannot parse check string {check_str!r}")
    for node in _nodes(check):
        if type(node) not in _LOCAL_CHECKS:
            kind = getattr(node, "kind", type(node).__name__)
            raise PolicyError(f"{source}: rule {name!r}: {kind}: checks are not allowed, they are not "
                              f"evaluated locally (got {str(node)!r}; allowed: rule:, role:, field:value "
                              "checks, @, ! and not/and/or)")
    return check


def _validated(rules: object, source: str) -> dict[str, str]:
    """A ``{rule name: check string}`` dict from one layer, each check string parsed."""
    if not isinstance(rules, Mapping):
        raise PolicyError(f"{source}: expected a mapping of rule name to check string, "
                          f"got {type(rules).__name__}")
    out: dict[str, str] = {}
    for name, check_str in rules.items():
        if not isinstance(name, str) or not name.strip():
            raise PolicyError(f"{source}: rule names must be non-empty strings, got {name!r}")
        if not isinstance(check_str, str):
            raise PolicyError(f"{source}: rule {name!r}: check string must be a string, "
                              f"got {type(check_str).__name__} {check_str!r}")
        _parse(name, check_str, source)
        out[name] = check_str
    return out


def _read_policy_file(path: Path) -> object:
    """A policy file's contents; YAML first, as oslo.policy does, then strict JSON.

    JSON is YAML except for a few corners (tab indentation), so the JSON fallback only
    rescues files oslo.policy itself would also have read as JSON before it moved to YAML.
    """
    source = f"policy file {str(path)!r}"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{source}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PolicyError(f"{source}: cannot read: {' '.join(str(e).split())}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        try:
            data = json.loads(text)
        except ValueError:
            raise PolicyError(f"{source}: not valid YAML or JSON: {' '.join(str(e).split())}") from None
        except RecursionError:
            raise PolicyError(f"{source}: nested too deeply to read") from None
    except RecursionError:  # both parsers recurse per nesting level
        raise PolicyError(f"{source}: nested too deeply to read") from None
    return {} if data is None else data  # an empty file has no rules, as in oslo.policy


def _cli_rules(overrides: Sequence[str] | Mapping[str, str]) -> object:
    """``RULE=CHECK`` strings (split on the first ``=``, rule names never contain one)."""
    if isinstance(overrides, Mapping):
        return overrides
    items = [overrides] if isinstance(overrides, str) else list(overrides)
    out: dict[str, str] = {}
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise PolicyError(f"--policy {item!r}: expected RULE=CHECK, "
                              f"e.g. {HOST_STATUS}=rule:admin_or_owner")
        name, _, check_str = item.partition("=")
        out[name.strip()] = check_str.strip()
    return out


class Policy:
    """One set of effective rules with its own oslo.policy ``Enforcer``.

    Construction registers Nova's defaults as ``RuleDefault`` and installs defaults plus
    ``overrides`` with ``set_rules(use_conf=False)``: the enforcer never looks for a policy
    file or a ``policy.d`` directory.  References to undefined rules and reference cycles are
    refused here; oslo.policy only logs the first (and then quietly checks ``default`` instead)
    and hits the recursion limit on the second.

    Rules are fixed after construction, so :meth:`check` memoises its answers keyed on
    ``(rule, context, target items)``; a repeated check costs a dict lookup.
    """

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        merged = dict(NOVA_DEFAULTS)
        merged.update(_validated(overrides or {}, "policy overrides"))
        parsed = {name: _parse(name, check_str, "policy") for name, check_str in merged.items()}
        _check_references(parsed)
        self._rules = merged
        conf = cfg.ConfigOpts()
        conf(args=[], project=None, default_config_files=[], default_config_dirs=[],
             use_env=False)
        self._enforcer = oslo_policy.Enforcer(conf, use_conf=False, default_rule=DEFAULT)
        self._enforcer.register_defaults(
            [oslo_policy.RuleDefault(name, check_str) for name, check_str in NOVA_DEFAULTS.items()])
        self._enforcer.set_rules(oslo_policy.Rules(parsed, DEFAULT), overwrite=True, use_conf=False)
        self._memo: dict[tuple[object, ...], bool] = {}

    def rules(self) -> dict[str, str]:
        """The effective rules as check strings, for run metadata and docs."""
        return dict(self._rules)

    def check(self, rule: str, ctx: RequestContext,
              target: Mapping[str, object] | None = None) -> bool:
        """Whether ``ctx`` may do ``rule`` to ``target`` (nova/policy.py ``authorize``).

        The target defaults to the caller's own ``project_id`` and ``user_id``.  A rule name
        with no rule falls back to ``default``, as in oslo.policy.
        """
        try:
            key = (rule, ctx, None if target is None else frozenset(target.items()))
            return self._memo[key]
        except KeyError:
            pass
        except TypeError:  # unhashable target values: answer without memoising
            return self._enforce(rule, ctx, target)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        result = self._memo[key] = self._enforce(rule, ctx, target)
        return result

    def _enforce(self, rule: str, ctx: RequestContext,
                 target: Mapping[str, object] | None) -> bool:
        if target is None:
            target = {"project_id": ctx.project_id, "user_id": ctx.user_id}
        return bool(self._enforcer.enforce(rule, dict(target), ctx.policy_credentials()))

    def authorize(self, rule: str, ctx: RequestContext,
                  target: Mapping[str, object] | None = None) -> None:
        """Raise Nova's 403 unless :meth:`check` passes."""
        if not self.check(rule, ctx, target):
            raise NovaFault(403, f"Policy doesn't allow {rule} to be performed.")

    def host_status_visibility(self, ctx: RequestContext,
                               target: Mapping[str, object] | None = None) -> HostStatusVisibility:
        """Which ``host_status`` values ``ctx`` sees (views/servers.py ``_get_host_status_unknown_only``).

        The unknown-only rule is consulted only when the main rule fails.
        """
        if self.check(HOST_STATUS, ctx, target):
            return "all"
        if self.check(HOST_STATUS_UNKNOWN_ONLY, ctx, target):
            return "unknown-only"
        return "none"

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._rules.items() if NOVA_DEFAULTS.get(k) != v}
        return f"Policy({changed!r})"


def _check_references(parsed: Mapping[str, object]) -> None:
    """Refuse ``rule:X`` with no rule X, and rules that reach themselves through ``rule:``."""
    refs: dict[str, list[str]] = {}
    for name, check in parsed.items():
        refs[name] = [str(node.match) for node in _nodes(check)
                      if isinstance(node, oslo_policy.RuleCheck)]
        for target in refs[name]:
            if target not in parsed:
                raise PolicyError(f"policy: rule {name!r} refers to undefined rule {target!r}")
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name):], name])
            raise PolicyError(f"policy: rules refer to each other in a cycle: {cycle}")
        if name in done:
            return
        for target in refs[name]:
            visit(target, [*path, name])
        done.add(name)

    for name in refs:
        visit(name, [])


def load_policy(scenario_rules: Mapping[str, str] | None = None,
                policy_file: str | Path | None = None,
                overrides: Sequence[str] | Mapping[str, str] | None = None) -> Policy:
    """The policy from all layers, later winning: Nova defaults < scenario < file < CLI.

    ``overrides`` are command-line ``RULE=CHECK`` strings (or an already-split mapping).
    Each layer is checked on its own so that an error names where the bad rule came from.
    """
    return Policy(policy_layers(scenario_rules, policy_file, overrides))


def policy_layers(scenario_rules: Mapping[str, str] | None = None,
                  policy_file: str | Path | None = None,
                  overrides: Sequence[str] | Mapping[str, str] | None = None) -> dict[str, str]:
    """The rules the layers set over Nova's defaults (scenario < file < CLI), each validated.

    ``simstatus run`` writes these into the effective scenario's ``[nova.policy]`` so that a
    run folder records the policy it ran under.
    """
    merged: dict[str, str] = {}
    if scenario_rules is not None:
        merged.update(_validated(scenario_rules, "scenario [nova.policy]"))
    if policy_file is not None:
        path = Path(policy_file)
        merged.update(_validated(_read_policy_file(path), f"policy file {str(path)!r}"))
    if overrides is not None:
        merged.update(_validated(_cli_rules(overrides), "--policy"))
    return merged
