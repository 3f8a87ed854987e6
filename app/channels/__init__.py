"""Channel adapters: one package per channel type behind the protocol in app/channels/base.py."""
