"""The Amazon channel; its fields, credentials and limits are declared in spec.py."""
