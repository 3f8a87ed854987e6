"""The CUSTOM_HTTP channel: a shop that implements the documented, signed JSON protocol (docs/channels/custom_http.md)."""
