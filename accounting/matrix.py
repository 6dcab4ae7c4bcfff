"""The posting matrix: which accounts each document component debits and credits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from accounting.errors import MissingPostingRule

WILDCARD = "*"

# The components each document type produces; a published matrix needs a rule for each.
COMPONENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "invoice": ("net", "tax"),
        "credit_note": ("net", "tax"),
        # The invoice books net revenue as deferred; "recognition" moves it to revenue monthly.
        "subscription_invoice": ("net", "tax", "recognition"),
        "payment": ("gross",),
        "refund": ("gross",),
        "payout": ("net", "fee"),
    }
)

RuleKey = tuple[str, str, str]
"""(document_type, component, group); group "*" matches any group."""


@dataclass(frozen=True)
class Rule:
    debit: str
    credit: str


@dataclass(frozen=True)
class PostingMatrix:
    org_id: str
    version: int
    rules: Mapping[RuleKey, Rule]

    def resolve(self, document_type: str, component: str, group: str) -> Rule:
        """The rule for this exact group, else the type's wildcard rule for the component."""
        rule = self.rules.get((document_type, component, group)) or self.rules.get(
            (document_type, component, WILDCARD)
        )
        if rule is None:
            raise MissingPostingRule(
                f"posting matrix version {self.version} has no rule for {document_type} "
                f"component {component!r} in group {group!r}"
            )
        return rule
