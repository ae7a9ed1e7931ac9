"""Payment gateways: the PaymentGateway protocol (base.py) and its Stripe implementation
(stripe_gateway.py, the only module that imports stripe). Offline methods need no gateway."""
