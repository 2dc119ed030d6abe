"""mgmt_extra_sources: more source networks for every security-group rule. The settings checks (a
table of bad values, each naming its entry), the rule table it yields, the rules declared under
mocks, and the open-prefix rule shared with the policy pack (config.sources)."""

import sys
from pathlib import Path

import pytest
from pulumi_policy import PolicyResourceOptions, ResourceValidationArgs

from components.security_groups import rule_table, source_key
from config import sources
from config.errors import ConfigError
from config.settings import parse_settings
from octavia_support import declare

POLICY_DIR = Path(__file__).resolve().parents[2] / "policy"
sys.path.insert(0, str(POLICY_DIR))
import octavia_policies as p  # noqa: E402

RULE = "openstack:networking/secGroupRule:SecGroupRule"
IPV6 = {"mgmt_subnet_cidr": "fd00:29::/64", "mgmt_allocation_pools": [], "health_managers": [{"host": "ctl1"}]}


def parse(config):
    return parse_settings(config, pki_parser=lambda section: section)


# --- settings ------------------------------------------------------------------------------------

def test_no_extra_sources_by_default(config):
    assert parse(config).network.extra_sources == ()


def test_extra_sources_are_networks_in_config_order(config):
    settings = parse({**config, "mgmt_extra_sources": ["10.20.0.0/16", " 192.168.7.0/24 "]})
    assert [str(n) for n in settings.network.extra_sources] == ["10.20.0.0/16", "192.168.7.0/24"]


def test_ipv6_extra_source_on_an_ipv6_subnet(config):
    settings = parse({**config, **IPV6, "mgmt_extra_sources": ["fd00:20::/64"]})
    assert [str(n) for n in settings.network.extra_sources] == ["fd00:20::/64"]


def test_an_open_prefix_allowed_by_the_stack(config):
    settings = parse({**config, "mgmt_extra_sources": ["0.0.0.0/0"], "mgmt_allowed_open_prefixes": ["0.0.0.0/0"]})
    assert [str(n) for n in settings.network.extra_sources] == ["0.0.0.0/0"]


# fmt: off
BAD = [
    # (case id, overrides, key named, value shown, words of what is valid)
    ("not-a-cidr", {"mgmt_extra_sources": ["10.20.0.0/16", "controllers"]}, "mgmt_extra_sources[1]", "controllers",
     "a network in CIDR form without host bits"),
    ("host-bits", {"mgmt_extra_sources": ["10.20.0.1/16"]}, "mgmt_extra_sources[0]", "10.20.0.1/16",
     "without host bits"),
    ("ipv6-on-ipv4", {"mgmt_extra_sources": ["fd00:20::/64"]}, "mgmt_extra_sources[0]", "fd00:20::/64",
     "an IPv4 network, like mgmt_subnet_cidr 172.29.232.0/24"),
    ("ipv4-on-ipv6", {**IPV6, "mgmt_extra_sources": ["10.20.0.0/16"]}, "mgmt_extra_sources[0]", "10.20.0.0/16",
     "an IPv6 network"),
    ("duplicate", {"mgmt_extra_sources": ["10.20.0.0/16", "10.30.0.0/16", "10.20.0.0/16"]}, "mgmt_extra_sources[2]",
     "10.20.0.0/16", "each network once; 10.20.0.0/16 is mgmt_extra_sources[0] already"),
    ("the-subnet-itself", {"mgmt_extra_sources": ["172.29.232.0/24"]}, "mgmt_extra_sources[0]", "172.29.232.0/24",
     "outside mgmt_subnet_cidr"),
    ("inside-the-subnet", {"mgmt_extra_sources": ["172.29.232.64/26"]}, "mgmt_extra_sources[0]", "172.29.232.64/26",
     "outside mgmt_subnet_cidr"),
    ("open-ipv4", {"mgmt_extra_sources": ["0.0.0.0/0"]}, "mgmt_extra_sources[0]", "0.0.0.0/0",
     "allowed only when on the allow-list (stack: mgmt_allowed_open_prefixes, policy pack: allowed_open_prefixes)"),
    ("open-ipv6", {**IPV6, "mgmt_extra_sources": ["::/0"]}, "mgmt_extra_sources[0]", "::/0", "the whole internet"),
    ("open-other-version-allowed", {**IPV6, "mgmt_extra_sources": ["::/0"], "mgmt_allowed_open_prefixes": ["0.0.0.0/0"]},
     "mgmt_extra_sources[0]", "::/0", "mgmt_allowed_open_prefixes"),
    ("allow-list-not-open", {"mgmt_allowed_open_prefixes": ["10.0.0.0/8"]}, "mgmt_allowed_open_prefixes[0]",
     "10.0.0.0/8", "one of 0.0.0.0/0, ::/0"),
    ("allow-list-twice", {"mgmt_allowed_open_prefixes": ["::/0", "::/0"]}, "mgmt_allowed_open_prefixes[1]", "::/0",
     "each prefix once"),
    ("not-a-list", {"mgmt_extra_sources": "10.20.0.0/16"}, "mgmt_extra_sources", "10.20.0.0/16", "array"),
    ("not-a-string", {"mgmt_extra_sources": [{"cidr": "10.20.0.0/16"}]}, "mgmt_extra_sources[0]", "cidr", "string"),
]
# fmt: on


@pytest.mark.parametrize("overrides, key, shown, valid", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_extra_sources_name_the_entry_value_and_what_is_valid(config, overrides, key, shown, valid):
    with pytest.raises(ConfigError) as caught:
        parse({**config, **overrides})
    assert caught.value.key == key
    message = str(caught.value)
    assert shown in message and valid in message, message


# --- the rule table ------------------------------------------------------------------------------

def test_every_rule_is_repeated_from_each_extra_source(config):
    settings = parse({**config, "log_offload": True, "mgmt_extra_sources": ["10.20.0.0/16", "10.30.1.0/24"]})
    rules = rule_table(settings)
    base = [r for r in rules if r.source is None]
    assert [r.key for r in base] == ["agent-api", "heartbeat", "admin-log", "tenant-log"]
    extra = [(r.key, r.group, r.protocol, r.port, r.source) for r in rules if r.source is not None]
    assert extra == [
        ("agent-api-from-10.20.0.0-16", "amphora", "tcp", 9443, "10.20.0.0/16"),
        ("heartbeat-from-10.20.0.0-16", "health-manager", "udp", 5555, "10.20.0.0/16"),
        ("admin-log-from-10.20.0.0-16", "health-manager", "udp", 10514, "10.20.0.0/16"),
        ("tenant-log-from-10.20.0.0-16", "health-manager", "udp", 20514, "10.20.0.0/16"),
        ("agent-api-from-10.30.1.0-24", "amphora", "tcp", 9443, "10.30.1.0/24"),
        ("heartbeat-from-10.30.1.0-24", "health-manager", "udp", 5555, "10.30.1.0/24"),
        ("admin-log-from-10.30.1.0-24", "health-manager", "udp", 10514, "10.30.1.0/24"),
        ("tenant-log-from-10.30.1.0-24", "health-manager", "udp", 20514, "10.30.1.0/24"),
    ]
    assert rules[-1].description == "tenant-log from 10.30.1.0/24"
    assert base[0].description == "agent-api from the management network"


def test_the_rule_table_without_extra_sources_is_unchanged(config):
    assert all(r.source is None for r in rule_table(parse({**config, "ssh_enabled": True, "debug": True})))


def test_source_keys_are_resource_name_safe():
    assert source_key("10.20.0.0/16") == "10.20.0.0-16"
    assert source_key("fd00:20::/64") == "fd00.20..-64"


# --- declared rules (mocks) ------------------------------------------------------------------------

@pytest.mark.parametrize("extra, cidr, source, ethertype", [
    ({}, "172.29.232.0/24", "10.20.0.0/16", "IPv4"),
    (IPV6, "fd00:29::/64", "fd00:20::/64", "IPv6"),
])
def test_declared_rules_admit_the_subnet_and_each_extra_source(config, extra, cidr, source, ethertype):
    run = declare({**config, **extra, "ssh_enabled": True, "mgmt_extra_sources": [source]})
    rules = {r.name: r.inputs for r in run.of_type(RULE)}
    assert len(rules) == 6  # agent API, SSH, heartbeat; each from the subnet and from the source
    assert sorted(r["remoteIpPrefix"] for r in rules.values()) == sorted([cidr] * 3 + [source] * 3)
    key = source_key(source)
    assert rules[f"octavia-secgroups-amphora-agent-api-from-{key}"]["remoteIpPrefix"] == source
    assert rules[f"octavia-secgroups-health-manager-heartbeat-from-{key}"]["remoteIpPrefix"] == source
    assert rules["octavia-secgroups-amphora-agent-api"]["remoteIpPrefix"] == cidr
    for rule in rules.values():
        assert rule["direction"] == "ingress" and rule["ethertype"] == ethertype
        assert p.open_rule_violations(rule) == []


def test_adding_an_extra_source_keeps_the_existing_rule_names(config):
    before = {r.name for r in declare(config).of_type(RULE)}
    after = {r.name for r in declare({**config, "mgmt_extra_sources": ["10.20.0.0/16"]}).of_type(RULE)}
    assert before < after


# --- the policy pack: the same rule, its allow-list ---------------------------------------------------

def validate(props, config=None):
    name = "octavia-secgroups-amphora-agent-api-from-0.0.0.0-0"
    urn = f"urn:pulumi:dev::octavia-infra::openstack:networking/secGroupRule:SecGroupRule::{name}"
    options = PolicyResourceOptions(False, [], False, [], None, [], None)
    found = []
    p.mgmt_rules_not_open.validate(ResourceValidationArgs(RULE, props, urn, name, options, None, config),
                                   lambda message, _urn=None: found.append(message))
    return found


OPEN_RULE = {"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "portRangeMin": 9443,
             "portRangeMax": 9443, "remoteIpPrefix": "0.0.0.0/0"}


def test_the_pack_refuses_an_open_source_by_default_with_the_shared_message():
    (message,) = validate(OPEN_RULE)
    assert sources.open_prefix_problem("0.0.0.0/0") in message
    assert "allowed_open_prefixes" in message


@pytest.mark.parametrize("allowed, prefix, refused", [
    (["0.0.0.0/0"], "0.0.0.0/0", False),
    (["::/0"], "0.0.0.0/0", True),
    (["::/0"], "::/0", False),
    ([], "::/0", True),
    ([], "10.20.0.0/16", False),
])
def test_the_packs_allow_list_comes_from_its_config(allowed, prefix, refused):
    found = validate({**OPEN_RULE, "remoteIpPrefix": prefix}, {"allowed_open_prefixes": allowed})
    assert bool(found) == refused, found


def test_settings_and_pack_share_the_default_allow_list():
    assert p.DEFAULTS["allowed_open_prefixes"] == list(sources.DEFAULT_ALLOWED_OPEN_PREFIXES) == []
    schema = p.mgmt_rules_not_open.config_schema.properties["allowed_open_prefixes"]
    assert schema["items"]["enum"] == list(sources.OPEN_PREFIXES)
    # what the settings refuse with the defaults, the pack refuses with its defaults, and the reverse
    for prefix in ("0.0.0.0/0", "::/0", "10.0.0.0/8", "fd00::/8"):
        assert bool(sources.open_prefix_problem(prefix)) == bool(p.open_rule_violations({"remoteIpPrefix": prefix}))
