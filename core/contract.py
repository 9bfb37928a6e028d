"""The event data contract, version 1, as code.

This module is the single place that states the schema of every input table
(``../shared/data-contract.md`` in words). The reader, the validator, the
simulator and the feature code all take column names, types and rules from
here, so a contract change is one edit and one version bump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CONTRACT_VERSION = 1
# Minor version: 1.1 added the optional ``enforcement`` table. Data of 1.0 is valid 1.1 data.
CONTRACT_MINOR_VERSION = 1

DType = Literal["str", "timestamp", "int", "float", "bool"]


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    nullable: bool = False
    unique: bool = False
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    # "accounts.account_id": every non-null value must name a known account.
    references: str | None = None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False
    # Time column that dates an event; point-in-time features filter on it.
    event_time: str | None = None
    description: str = ""
    extra_rules: tuple[str, ...] = field(default_factory=tuple)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


ACCOUNT_REF = "accounts.account_id"

ACCOUNTS = Table(
    "accounts",
    (
        Column("account_id", "str", unique=True),
        Column("created_at", "timestamp"),
        Column("level", "int", nullable=True, min_value=0, max_value=8),
        Column("phone_verified", "bool", nullable=True),
    ),
    required=True,
    event_time="created_at",
    description="One row per platform account.",
)

ORDERS = Table(
    "orders",
    (
        Column("order_id", "str", unique=True),
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("merchant_id", "str"),
        Column("item_id", "str", nullable=True),
        Column("amount", "float", min_value=0),
        Column("ordered_at", "timestamp"),
        Column("delivered_at", "timestamp", nullable=True),
        Column("refunded_at", "timestamp", nullable=True),
        Column("device_id", "str", nullable=True),
        Column("address_id", "str", nullable=True),
    ),
    event_time="ordered_at",
    description="Purchases; the account is the buyer.",
)

REVIEWS = Table(
    "reviews",
    (
        Column("review_id", "str", unique=True),
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("merchant_id", "str"),
        Column("order_id", "str", nullable=True),
        Column("rating", "int", min_value=1, max_value=5),
        Column("text", "str", nullable=True),
        Column("created_at", "timestamp"),
        Column("edited_at", "timestamp", nullable=True),
        Column("edited_rating", "int", nullable=True, min_value=1, max_value=5),
        Column("deleted_at", "timestamp", nullable=True),
        Column("device_id", "str", nullable=True),
    ),
    event_time="created_at",
    description="Reviews of merchants; 1-2 stars is a negative review.",
)

MESSAGES = Table(
    "messages",
    (
        Column("message_id", "str", unique=True),
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("merchant_id", "str"),
        Column("sender", "str", allowed=("account", "merchant")),
        Column("text", "str"),
        Column("sent_at", "timestamp"),
    ),
    event_time="sent_at",
    description="Chat between an account and a merchant.",
)

TRANSFERS = Table(
    "transfers",
    (
        Column("transfer_id", "str", unique=True),
        Column("merchant_id", "str"),
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("amount", "float", min_value=0),
        Column("kind", "str", allowed=("refund", "compensation", "other")),
        Column("paid_at", "timestamp"),
    ),
    event_time="paid_at",
    description="Money a merchant sent to an account outside the order flow.",
)

REPORTS = Table(
    "reports",
    (
        Column("report_id", "str", unique=True),
        Column("merchant_id", "str"),
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("review_id", "str", nullable=True),
        Column("reason", "str", allowed=("extortion", "fake_review", "abuse", "other")),
        Column("reported_at", "timestamp"),
    ),
    event_time="reported_at",
    description="Complaints merchants file against accounts.",
)

LIKES = Table(
    "likes",
    (
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("content_id", "str"),
        Column("author_id", "str"),
        Column("liked_at", "timestamp"),
        Column("dwell_ms", "int", nullable=True, min_value=0),
        Column("device_id", "str", nullable=True),
    ),
    event_time="liked_at",
    description="One row per like an account gave to a piece of content.",
)

ENFORCEMENT_OUTCOMES = ("in_force", "expired", "overturned_on_appeal", "upheld_on_appeal")

ENFORCEMENT = Table(
    "enforcement",
    (
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("risk", "str"),
        Column("action", "str"),
        Column("applied_at", "timestamp"),
        Column("lifted_at", "timestamp", nullable=True),
        Column("outcome", "str", allowed=ENFORCEMENT_OUTCOMES),
    ),
    event_time="applied_at",
    description="What the platform already did to an account (contract 1.1): the history that makes "
    "a sanction a last resort.",
)

# Risks are open-ended by design (a new risk is configuration), so labels.risk
# is checked against this default list only when the caller does not pass one.
DEFAULT_RISKS = ("extortion", "fake_engagement")
# The risk `reviewguard datasets yelp` labels, and the packaged training preset
# (`--config yelp`) that declares it: labels of a preset's risk refused for want
# of the preset say which one to pass, not just "quarantine them".
YELP_RISK = "review_spam"
PRESET_RISKS: dict[str, str] = {YELP_RISK: "yelp"}

LABELS = Table(
    "labels",
    (
        Column("account_id", "str", references=ACCOUNT_REF),
        Column("risk", "str", allowed=DEFAULT_RISKS),
        Column("label", "int", min_value=0, max_value=1),
        Column("decided_at", "timestamp"),
        Column("source", "str"),
    ),
    event_time="decided_at",
    description="Moderation outcomes; training and evaluation only.",
)

TABLES: dict[str, Table] = {
    t.name: t for t in (ACCOUNTS, ORDERS, REVIEWS, MESSAGES, TRANSFERS, REPORTS, LIKES, ENFORCEMENT, LABELS)
}

EVENT_TABLES = ("orders", "reviews", "messages", "transfers", "reports", "likes")

NEGATIVE_RATING_MAX = 2
