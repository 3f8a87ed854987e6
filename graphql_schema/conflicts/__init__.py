"""Conflicts over GraphQL: list and read them, resolve one or many, and follow new detections."""
