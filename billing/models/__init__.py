"""All mapped classes, imported here so metadata is complete wherever models are used."""

from billing.models.account import Account
from billing.models.audit import AuditEntry
from billing.models.email import Email, EmailStatus
from billing.models.invoice import (
    TRANSITIONS,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    NumberSequence,
)
from billing.models.pay_link import PayLink
from billing.models.payment import (
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.models.setting import CompanySettings
from billing.models.user import (
    AttemptKind,
    AuthAttempt,
    AuthSession,
    LoginToken,
    PortalIdentity,
    PortalRole,
    PortalUser,
    Realm,
    StaffRole,
    StaffUser,
    TokenPurpose,
)

__all__ = [
    "TRANSITIONS",
    "Account",
    "AttemptKind",
    "AuditEntry",
    "AuthAttempt",
    "AuthSession",
    "CompanySettings",
    "Email",
    "EmailStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LoginToken",
    "NumberSequence",
    "PayLink",
    "Payment",
    "PaymentAllocation",
    "PaymentMethod",
    "PaymentStatus",
    "PortalIdentity",
    "PortalRole",
    "PortalUser",
    "Realm",
    "Refund",
    "RefundStatus",
    "StaffRole",
    "StaffUser",
    "TokenPurpose",
]
