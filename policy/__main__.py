"""octavia-infra policy pack: `pulumi preview --policy-pack policy` (see policy/README.md)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from octavia_policies import POLICIES

PolicyPack(
    name="octavia-infra",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
