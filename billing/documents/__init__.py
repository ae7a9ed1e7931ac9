"""PDF documents: invoices and payment receipts."""
