"""The policy engine: subsidies as data, entitlements with reasons, the bureau's budget, the risk-compensation fund.

See docs/policy.md. The entry points for the CLI and the UI are in :mod:`ipabs.policy.api`.
"""
