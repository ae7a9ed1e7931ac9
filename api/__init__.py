"""The JSON API for other systems (a CRM, a shop): orders in, invoices out. See api/openapi.py."""
