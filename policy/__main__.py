"""octavia-infra policy pack: `pulumi preview --policy-pack policy` (see policy/README.md)."""

from pulumi_policy import EnforcementLevel, PolicyPack

from octavia_policies import ADVISORY_POLICIES, POLICIES

PolicyPack(
    name="octavia-infra",
    enforcement_level=EnforcementLevel.MANDATORY,  # each policy names its own level
    policies=POLICIES + ADVISORY_POLICIES,
)
