"""Policy: Nova's rule names and Mitaka defaults, layered overrides, and host_status visibility.

Expected answers come from Nova's documented semantics (nova/policy.py ``authorize``,
nova/policies/servers.py, Mitaka's etc/nova/policy.json): ``is_admin:True``
tests the context's admin flag; ``project_id:%(project_id)s`` passes when the target's project is
the caller's; with no target the caller's own project is the target; the unknown-only rule is
consulted only when ``show:host_status`` fails.
"""

from __future__ import annotations

import json
import logging

import pytest

from simstatus.api.auth import RequestContext, admin_context
from simstatus.api.faults import NovaFault
from simstatus.api.policy import (
    ALL_TENANTS_DETAIL,
    HOST_STATUS,
    HOST_STATUS_UNKNOWN_ONLY,
    NFV_RULES,
    NOVA_DEFAULTS,
    OS_SERVICES,
    SERVERS_SHOW,
    Policy,
    PolicyError,
    load_policy,
    policy_layers,
)

ADMIN = admin_context()
OWNER = RequestContext(user_id="alice", project_id="p1")
OTHER = RequestContext(user_id="bob", project_id="p2")
OWN = {"project_id": "p1"}
THEIRS = {"project_id": "p2"}


def test_default_host_status_admin_passes():
    """By default the admin sees host_status for any project's server."""
    assert Policy().check(HOST_STATUS, ADMIN, OWN) is True


def test_default_host_status_owner_fails():
    """By default (rule:admin_api) an owner does not see host_status for its own server."""
    assert Policy().check(HOST_STATUS, OWNER, OWN) is False


def test_default_host_status_other_tenant_fails():
    """By default another tenant does not see host_status either."""
    assert Policy().check(HOST_STATUS, OTHER, OWN) is False


def test_default_visibility_is_all_for_admin_none_for_tenants():
    """Default visibility: admin sees every value, tenants see nothing."""
    policy = Policy()
    assert [policy.host_status_visibility(c, OWN) for c in (ADMIN, OWNER, OTHER)] == [
        "all", "none", "none"]


def test_nfv_rule_owner_passes_for_own_project():
    """With the NFV rule an owner sees host_status on its own project's server."""
    assert Policy(NFV_RULES).check(HOST_STATUS, OWNER, OWN) is True


def test_nfv_rule_owner_fails_for_other_project():
    """With the NFV rule an owner still may not see another project's server's host_status."""
    assert Policy(NFV_RULES).check(HOST_STATUS, OWNER, THEIRS) is False


def test_default_target_is_callers_project():
    """Without a target the caller's own project is the target, so admin_or_owner passes."""
    policy = Policy(NFV_RULES)
    assert (policy.check(HOST_STATUS, OWNER), policy.check(SERVERS_SHOW, OTHER)) == (True, True)


def test_memo_distinguishes_contexts_and_targets():
    """Repeated checks on one instance answer per (context, target), not from the first answer."""
    policy = Policy(NFV_RULES)
    answers = [policy.check(HOST_STATUS, c, t)
               for _ in range(2) for c in (OWNER, OTHER) for t in (OWN, THEIRS)]
    assert answers == [True, False, False, True] * 2


def test_unknown_only_rule_gives_unknown_only_visibility():
    """unknown-only set to admin_or_owner: the owner sees only UNKNOWN, the admin still sees all."""
    policy = Policy({HOST_STATUS_UNKNOWN_ONLY: "rule:admin_or_owner"})
    assert [policy.host_status_visibility(c, OWN) for c in (OWNER, ADMIN, OTHER)] == [
        "unknown-only", "all", "none"]


def test_unknown_only_ignored_when_main_rule_passes():
    """When show:host_status passes the unknown-only rule is not consulted: visibility is all."""
    policy = Policy({**NFV_RULES, HOST_STATUS_UNKNOWN_ONLY: "rule:admin_or_owner"})
    assert policy.host_status_visibility(OWNER, OWN) == "all"


def test_all_tenants_is_admin_only():
    """get_all_tenants (is_admin:True) passes for the admin only."""
    policy = Policy()
    assert (policy.check(ALL_TENANTS_DETAIL, ADMIN), policy.check(ALL_TENANTS_DETAIL, OWNER)) == (
        True, False)


def test_authorize_raises_nova_403_with_exact_message():
    """A refused authorize is Nova's 403 'Policy doesn't allow <rule> to be performed.'."""
    with pytest.raises(NovaFault) as info:
        Policy().authorize(OS_SERVICES, OWNER)
    assert (info.value.code, info.value.message) == (
        403, "Policy doesn't allow os_compute_api:os-services to be performed.")
    assert info.value.body() == {"forbidden": {
        "code": 403, "message": "Policy doesn't allow os_compute_api:os-services to be performed."}}


def test_authorize_passes_silently():
    """An allowed authorize returns None."""
    assert Policy().authorize(OS_SERVICES, ADMIN) is None


def test_rules_are_defaults_plus_overrides():
    """rules() reports every default and each override's check string."""
    rules = Policy(NFV_RULES).rules()
    assert rules == {**NOVA_DEFAULTS, HOST_STATUS: "rule:admin_or_owner"}


def test_unknown_rule_names_are_kept_and_unknown_checks_use_default():
    """Extra rule names are kept; checking a name with no rule falls back to ``default``."""
    policy = Policy({"os_compute_api:os-hypervisors": "rule:admin_api"})
    assert policy.rules()["os_compute_api:os-hypervisors"] == "rule:admin_api"
    assert policy.check("os_compute_api:os-hypervisors", OWNER) is False
    # default = rule:admin_or_owner
    assert (policy.check("os_compute_api:no-such-rule", OWNER, OWN),
            policy.check("os_compute_api:no-such-rule", OWNER, THEIRS)) == (True, False)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_layering_scenario_then_file_then_cli(tmp_path, fmt):
    """Later layers win rule by rule: defaults < scenario < policy file < --policy."""
    scenario = {HOST_STATUS: "rule:admin_or_owner", OS_SERVICES: "rule:admin_or_owner",
                SERVERS_SHOW: "is_admin:True"}
    file_rules = {OS_SERVICES: "!", SERVERS_SHOW: "!"}
    path = tmp_path / f"policy.{fmt}"
    if fmt == "yaml":
        path.write_text("".join(f'"{k}": "{v}"\n' for k, v in file_rules.items()))
    else:
        path.write_text(json.dumps(file_rules, indent=4))
    policy = load_policy(scenario, path, [f"{SERVERS_SHOW}=@"])
    rules = policy.rules()
    assert (rules[HOST_STATUS], rules[OS_SERVICES], rules[SERVERS_SHOW], rules[ALL_TENANTS_DETAIL]) == (
        "rule:admin_or_owner", "!", "@", "is_admin:True")
    # scenario rule in force, file rule denies even the admin, CLI rule allows anyone
    assert (policy.check(HOST_STATUS, OWNER), policy.check(OS_SERVICES, ADMIN),
            policy.check(SERVERS_SHOW, OTHER, OWN)) == (True, False, True)


def test_cli_overrides_accept_a_mapping_and_split_on_first_equals():
    """--policy strings split on the first '='; a mapping is taken as already split."""
    a = load_policy(overrides=[f"{HOST_STATUS} = rule:admin_or_owner"])
    b = load_policy(overrides={HOST_STATUS: "rule:admin_or_owner"})
    assert a.rules()[HOST_STATUS] == b.rules()[HOST_STATUS] == "rule:admin_or_owner"


def test_empty_check_string_allows_everyone():
    """An empty check string means 'always' in oslo.policy, so another tenant passes."""
    assert load_policy(overrides=[f"{HOST_STATUS}="]).check(HOST_STATUS, OTHER, OWN) is True


def test_empty_policy_file_keeps_defaults(tmp_path):
    """An empty policy file has no rules (as in oslo.policy), so the defaults hold."""
    path = tmp_path / "policy.yaml"
    path.write_text("")
    assert load_policy(policy_file=path).rules() == dict(NOVA_DEFAULTS)


def test_policy_never_reads_files_in_cwd(tmp_path, monkeypatch):
    """A policy.yaml or policy.d in the working directory is ignored; only named files count."""
    (tmp_path / "policy.yaml").write_text(f'"{HOST_STATUS}": "@"\n')
    (tmp_path / "policy.d").mkdir()
    (tmp_path / "policy.d" / "x.yaml").write_text(f'"{HOST_STATUS}": "@"\n')
    monkeypatch.chdir(tmp_path)
    assert Policy().check(HOST_STATUS, OTHER, OWN) is False


def test_instances_do_not_affect_each_other():
    """Two policies with different rules answer independently, in either order."""
    nfv, default = Policy(NFV_RULES), Policy()
    assert (nfv.check(HOST_STATUS, OWNER), default.check(HOST_STATUS, OWNER),
            Policy(NFV_RULES).check(HOST_STATUS, OWNER)) == (True, False, True)
    assert default.rules()[HOST_STATUS] == "rule:admin_api"


def test_many_instances_are_cheap():
    """Hundreds of policies can be built (each with its own enforcer) in well under a second each."""
    policies = [Policy({HOST_STATUS: "rule:admin_or_owner"} if i % 2 else None) for i in range(200)]
    assert [p.check(HOST_STATUS, OWNER) for p in policies[:4]] == [False, True, False, True]


def _bad_file(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("make_args, fragment", [
    (lambda p: {"policy_file": p / "missing.yaml"}, "no such file"),
    (lambda p: {"policy_file": _bad_file(p, "list.yaml", "- a\n- b\n")},
     "expected a mapping of rule name to check string, got list"),
    (lambda p: {"policy_file": _bad_file(p, "num.json", json.dumps({HOST_STATUS: 1}))},
     "check string must be a string, got int"),
    (lambda p: {"policy_file": _bad_file(p, "broken.yaml", "a: [b\n")}, "not valid YAML or JSON"),
    (lambda p: {"scenario_rules": ["x"]}, "scenario [nova.policy]: expected a mapping"),
    (lambda p: {"overrides": [HOST_STATUS]}, "expected RULE=CHECK"),
    (lambda p: {"overrides": ["=rule:admin_api"]}, "rule names must be non-empty strings"),
    (lambda p: {"overrides": [f"{HOST_STATUS}=is_admin"]}, "cannot parse check string 'is_admin'"),
    (lambda p: {"overrides": [f"{HOST_STATUS}=(is_admin:True"]}, "cannot parse check string"),
    (lambda p: {"overrides": [f"{HOST_STATUS}=is_admin:True or"]}, "cannot parse check string"),
    (lambda p: {"scenario_rules": {HOST_STATUS: "is_admin:True or garbage"}},
     "scenario [nova.policy]: rule 'os_compute_api:servers:show:host_status': cannot parse"),
    (lambda p: {"overrides": [f"{HOST_STATUS}=rule:admin_ap"]}, "refers to undefined rule 'admin_ap'"),
    (lambda p: {"overrides": ["admin_api=rule:admin_or_owner", "admin_or_owner=rule:admin_api"]},
     "cycle"),
])
def test_bad_input_raises_policy_error(tmp_path, caplog, make_args, fragment):
    """Each kind of bad input is a one-line PolicyError saying what is wrong, logging nothing."""
    with caplog.at_level(logging.DEBUG), pytest.raises(PolicyError) as info:
        load_policy(**make_args(tmp_path))
    message = str(info.value)
    assert fragment in message and "\n" not in message
    assert isinstance(info.value, ValueError)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_bad_check_in_policy_constructor_raises():
    """Policy(overrides) validates like load_policy does."""
    with pytest.raises(PolicyError, match="cannot parse check string"):
        Policy({HOST_STATUS: "not"})


def test_valid_rules_with_deny_tokens_are_accepted():
    """'!' and 'not' are real syntax, not parse failures."""
    policy = Policy({HOST_STATUS: "! or is_admin:True", OS_SERVICES: "not rule:admin_api"})
    assert (policy.check(HOST_STATUS, ADMIN), policy.check(OS_SERVICES, ADMIN),
            policy.check(OS_SERVICES, OWNER)) == (True, False, True)


# --- mutation testing (docs/testing.md, room `policy`): each test below fails on a mutant that
# the tests above let through.

def test_policy_error_messages_name_their_source_exactly(tmp_path):
    """The whole one-line message, not a fragment: which layer, which rule, what is wrong."""
    missing = tmp_path / "missing.yaml"
    cases = [
        (lambda: Policy({HOST_STATUS: "not"}),
         f"policy overrides: rule '{HOST_STATUS}': cannot parse check string 'not'"),
        (lambda: load_policy(policy_file=missing), f"policy file {str(missing)!r}: no such file"),
        (lambda: load_policy(overrides=["admin_api=rule:admin_or_owner", "admin_or_owner=rule:admin_api"]),
         # rules are visited in Nova's default order: admin_or_owner is the first on the cycle
         "policy: rules refer to each other in a cycle: admin_or_owner -> admin_api -> admin_or_owner"),
    ]
    for build, message in cases:
        with pytest.raises(PolicyError) as info:
            build()
        assert str(info.value) == message


def test_unreadable_policy_file_message_carries_the_decoder_error(tmp_path):
    """A file that is not UTF-8 names the file and the codec's complaint on one line."""
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(PolicyError) as info:
        load_policy(policy_file=path)
    assert str(info.value) == (f"policy file {str(path)!r}: cannot read: 'utf-8' codec can't decode "
                               "byte 0xff in position 0: invalid start byte")


def test_invalid_yaml_message_carries_the_parser_error_on_one_line(tmp_path):
    """The YAML parser's multi-line error is folded onto one line, words kept whole."""
    path = tmp_path / "broken.yaml"
    path.write_text("a: [b\n")
    with pytest.raises(PolicyError) as info:
        load_policy(policy_file=path)
    assert str(info.value).startswith(
        f"policy file {str(path)!r}: not valid YAML or JSON: while parsing a flow sequence in \"<unicode string>\", "
        "line 1, column 4: a: [b ^ expected ',' or ']', but got '<stream end>'")


@pytest.mark.parametrize("text", [
    "[" * 100_000 + "]" * 100_000,          # YAML itself recurses too deep
    "\t" + "[" * 100_000 + "]" * 100_000,  # YAML refuses the tab, the JSON fallback recurses
])
def test_deeply_nested_policy_file_message(tmp_path, text):
    path = tmp_path / "deep.json"
    path.write_text(text)
    with pytest.raises(PolicyError) as info:
        load_policy(policy_file=path)
    assert str(info.value) == f"policy file {str(path)!r}: nested too deeply to read"


def test_cli_overrides_accept_one_string_and_keep_later_equals_in_the_check():
    """A lone ``RULE=CHECK`` string is one override (not its characters); only the first ``=`` splits."""
    assert policy_layers(overrides=f"{HOST_STATUS}=rule:admin_or_owner") == {HOST_STATUS: "rule:admin_or_owner"}
    assert policy_layers(overrides=[f"{HOST_STATUS}='p=1':%(project_id)s"]) == {HOST_STATUS: "'p=1':%(project_id)s"}


def test_parser_log_filter_is_removed_after_parsing():
    """The capture is attached to oslo.policy's parser logger only while parsing, also after a failure."""
    logger = logging.getLogger("oslo_policy._parser")
    before = list(logger.filters)
    Policy(NFV_RULES)
    with pytest.raises(PolicyError):
        Policy({HOST_STATUS: "is_admin"})
    assert logger.filters == before


def test_unparseable_check_with_a_bang_is_refused():
    """oslo.policy logs and substitutes one ``!`` for the whole string; the ``!`` typed in it does not
    excuse that."""
    with pytest.raises(PolicyError, match="cannot parse check string '! and \\('"):
        Policy({HOST_STATUS: "! and ("})


def test_bang_in_parentheses_is_a_real_deny_token():
    """``(!)`` counts as the ``!`` it is, so the rule loads (and denies only through that branch)."""
    policy = Policy({HOST_STATUS: "(!) or is_admin:True"})
    assert (policy.check(HOST_STATUS, ADMIN), policy.check(HOST_STATUS, OWNER)) == (True, False)


@pytest.mark.parametrize("check", ["is_admin", "! or is_admin", "!X"])
def test_bad_check_strings_are_refused_with_logging_disabled(check):
    """With logging off nothing is captured: counting ``!`` leaves against ``!`` tokens still refuses."""
    logging.disable(logging.CRITICAL)
    try:
        with pytest.raises(PolicyError, match="cannot parse check string"):
            Policy({HOST_STATUS: check})
    finally:
        logging.disable(logging.NOTSET)


def test_a_registered_check_without_a_kind_is_refused_by_its_type_name(monkeypatch):
    """A check a package registers need not carry ``kind``; the error then names its class."""
    from oslo_policy import _checks

    class Opaque(_checks.BaseCheck):
        def __init__(self, kind: str, match: str) -> None:
            self.match = match

        def __str__(self) -> str:
            return f"opaque:{self.match}"

        def __call__(self, target, cred, enforcer, current_rule=None) -> bool:
            return True

    monkeypatch.setitem(_checks.registered_checks, "opaque", Opaque)
    with pytest.raises(PolicyError, match=r"rule '[^']+': Opaque: checks are not allowed"):
        Policy({HOST_STATUS: "opaque:x"})


def test_deep_diamond_of_rule_references_loads():
    """Each rule's references are followed once: 40 levels of two references each load at once
    (following them again on every path would take 2**40 steps)."""
    rules = {f"r{i}": f"rule:r{i + 1} or rule:r{i + 1}" for i in range(40)}
    rules["r40"] = "is_admin:True"
    policy = Policy(rules)
    assert policy.rules()["r0"] == "rule:r1 or rule:r1"


def test_unhashable_target_values_are_checked_against_the_right_rule_caller_and_target():
    """A target with a list value cannot be memoised but is still checked as given."""
    nfv, default = Policy(NFV_RULES), Policy()
    own = {"project_id": "p1", "tags": ["a"]}
    theirs = {"project_id": "p2", "tags": ["a"]}
    assert (nfv.check(HOST_STATUS, OWNER, own), nfv.check(HOST_STATUS, OWNER, theirs),
            default.check(HOST_STATUS, OWNER, own), default.check(HOST_STATUS, ADMIN, theirs)) == (
        True, False, False, True)


def _counting(policy: Policy) -> list[str]:
    """Record every rule the policy's enforcer is asked about."""
    calls: list[str] = []
    enforce = policy._enforcer.enforce

    def counted(rule, target, creds, *args, **kwargs):
        calls.append(rule)
        return enforce(rule, target, creds, *args, **kwargs)

    policy._enforcer.enforce = counted
    return calls


def test_repeated_checks_are_answered_from_the_memo():
    """A repeated check, with or without a target, asks oslo.policy once."""
    policy = Policy()
    calls = _counting(policy)
    for _ in range(3):
        policy.check(HOST_STATUS, OWNER)
        policy.check(HOST_STATUS, OWNER, THEIRS)
    assert calls == [HOST_STATUS, HOST_STATUS]


def test_memo_is_emptied_when_it_reaches_its_limit(monkeypatch):
    """At the limit the memo starts over: with room for two answers, a third forgets the first."""
    from simstatus.api import policy as policy_module

    monkeypatch.setattr(policy_module, "_MEMO_LIMIT", 2)
    policy = Policy()
    calls = _counting(policy)
    for target in (OWN, THEIRS, {"project_id": "p3"}, OWN):
        policy.check(SERVERS_SHOW, OWNER, target)
    assert calls == [SERVERS_SHOW] * 4


def test_default_target_carries_the_callers_user_id():
    """With no target, ``%(user_id)s`` is the caller's own user (nova/policy.py ``authorize``)."""
    policy = Policy({HOST_STATUS: "user_id:%(user_id)s"})
    assert policy.check(HOST_STATUS, OWNER) is True


def test_authorize_and_visibility_use_the_given_target():
    """Under the NFV rule, another project's server is refused and shows no host_status."""
    policy = Policy(NFV_RULES)
    with pytest.raises(NovaFault):
        policy.authorize(HOST_STATUS, OWNER, THEIRS)
    assert (policy.host_status_visibility(OWNER, THEIRS), policy.host_status_visibility(OWNER, OWN)) == (
        "none", "all")


def test_repr_shows_only_the_rules_that_differ_from_nova():
    """An override equal to Nova's default is not a change."""
    assert repr(Policy()) == "Policy({})"
    assert repr(Policy({**NFV_RULES, "admin_api": NOVA_DEFAULTS["admin_api"]})) == (
        "Policy({'os_compute_api:servers:show:host_status': 'rule:admin_or_owner'})")



def test_policy_reads_no_policy_or_config_file_from_home(tmp_path, monkeypatch):
    """oslo.config and oslo.policy look in ``~`` and ``/etc`` by default; a Policy never does."""
    import sys
    from pathlib import Path

    allow_all = json.dumps({HOST_STATUS: "@", "admin_api": "@"})
    for name in ("policy.yaml", "policy.json"):
        (tmp_path / name).write_text(allow_all)
    prog = Path(sys.argv[0]).name.removesuffix(".py")  # as oslo.config names it (`python -m pytest`: __main__)
    (tmp_path / f"{prog}.conf").write_text("this is not an ini file\n")
    (tmp_path / f"{prog}.conf.d").mkdir()
    (tmp_path / f"{prog}.conf.d" / "x.conf").write_text("this is not an ini file\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("OS_OSLO_POLICY__POLICY_FILE", str(tmp_path / "policy.json"))
    policy = Policy()
    assert (policy.check(HOST_STATUS, OWNER), policy.check(OS_SERVICES, OWNER)) == (False, False)


def test_policy_file_is_read_as_utf8_under_any_locale(tmp_path):
    """Policy files are UTF-8 (as oslo.policy reads them), also under an ASCII locale."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import simstatus

    path = tmp_path / "p.yaml"
    path.write_text(f"{HOST_STATUS}: \"'café':%(project_id)s\"\n", encoding="utf-8")
    # the child imports the simstatus this process runs (under mutmut: the mutated copy)
    env = {**os.environ, "LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0",
           "PYTHONPATH": str(Path(simstatus.__file__).resolve().parent.parent)}
    code = ("import sys; from simstatus.api.policy import policy_layers; "
            "print(ascii(policy_layers(policy_file=sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == ascii({HOST_STATUS: "'café':%(project_id)s"})
    # the same read in this process too (mutmut picks the tests to run by what they call here)
    assert policy_layers(policy_file=path) == {HOST_STATUS: "'café':%(project_id)s"}


@pytest.mark.parametrize("source", ["config file", "config dir", "environment"])
def test_policy_config_opts_read_no_file_and_no_environment(tmp_path, monkeypatch, source):
    """oslo.config would read ``~/<prog>.conf``, ``~/<prog>.conf.d/*.conf`` and ``OS_<GROUP>__<OPT>``.

    Each is given something oslo.config refuses (an ini line without ``=``; a ``$name``
    substitution of an option that does not exist, in ``[oslo_policy] policy_file``, which the
    enforcer reads when it is built), so a ``Policy`` whose ``ConfigOpts`` looked there would fail
    to build.  ``<prog>`` is ``sys.argv[0]``'s basename (oslo.config's default), pinned here.
    """
    import sys

    monkeypatch.setattr(sys, "argv", ["simstatus-policy-test"])
    monkeypatch.setenv("HOME", str(tmp_path))
    if source == "config file":
        (tmp_path / "simstatus-policy-test.conf").write_text("not an ini line\n")
    elif source == "config dir":
        (tmp_path / "simstatus-policy-test.conf.d").mkdir()
        (tmp_path / "simstatus-policy-test.conf.d" / "x.conf").write_text("not an ini line\n")
    else:
        monkeypatch.setenv("OS_OSLO_POLICY__POLICY_FILE", "$no_such_option")
    policy = Policy()
    assert (policy.check(HOST_STATUS, ADMIN), policy.check(HOST_STATUS, OWNER)) == (True, False)
