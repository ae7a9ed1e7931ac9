"""All mapped classes, imported here so metadata is complete wherever models are used."""

from billing.models.account import Account
from billing.models.api_key import SCOPES, ApiKey, ApiKeyUsage
from billing.models.audit import AuditEntry
from billing.models.card import SavedCard
from billing.models.catalog import Product, ProductPrice, TaxRate
from billing.models.credit import AccountCredit, CreditKind
from billing.models.credit_note import (
    CreditNote,
    CreditNoteKind,
    CreditNoteLine,
    CreditSettlement,
    SettlementStatus,
)
from billing.models.email import Email, EmailStatus
from billing.models.invoice import (
    TRANSITIONS,
    Invoice,
    InvoiceLine,
    InvoiceLineTax,
    InvoiceStatus,
    NumberSequence,
)
from billing.models.order import Order, OrderLine, OrderStatus
from billing.models.pay_link import PayLink
from billing.models.payment import (
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from billing.models.processor import ProcessorSettings
from billing.models.quote import (
    QUOTE_TRANSITIONS,
    Quote,
    QuoteConversion,
    QuoteLine,
    QuoteLineTax,
    QuoteStatus,
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
from billing.models.webhook_event import WebhookEvent, WebhookEventStatus
from billing.models.widget import PayWidget, WidgetPayment

__all__ = [
    "QUOTE_TRANSITIONS",
    "SCOPES",
    "TRANSITIONS",
    "Account",
    "AccountCredit",
    "ApiKey",
    "ApiKeyUsage",
    "AttemptKind",
    "AuditEntry",
    "AuthAttempt",
    "AuthSession",
    "CompanySettings",
    "CreditKind",
    "CreditNote",
    "CreditNoteKind",
    "CreditNoteLine",
    "CreditSettlement",
    "Email",
    "EmailStatus",
    "Invoice",
    "InvoiceLine",
    "InvoiceLineTax",
    "InvoiceStatus",
    "LoginToken",
    "NumberSequence",
    "Order",
    "OrderLine",
    "OrderStatus",
    "PayLink",
    "PayWidget",
    "Payment",
    "PaymentAllocation",
    "PaymentMethod",
    "PaymentStatus",
    "PortalIdentity",
    "PortalRole",
    "PortalUser",
    "ProcessorSettings",
    "Product",
    "ProductPrice",
    "Quote",
    "QuoteConversion",
    "QuoteLine",
    "QuoteLineTax",
    "QuoteStatus",
    "Realm",
    "Refund",
    "RefundStatus",
    "SavedCard",
    "SettlementStatus",
    "StaffRole",
    "StaffUser",
    "TaxRate",
    "TokenPurpose",
    "WebhookEvent",
    "WebhookEventStatus",
    "WidgetPayment",
]
