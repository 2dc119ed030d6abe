"""The stack's configuration: Pulumi.yaml's schema, the settings model that validates a stack's
config before anything is declared, and the pure helpers it needs (network math, image manifests,
OpenStack resource names). No Pulumi resources here."""
