"""What the stack hands to others, from settings and resolved outputs: octavia.conf, the
deployment tools' variables, the health-manager host firewall, and the output names (the contract
other stacks rely on). Pure functions; no Pulumi resources here."""
