"""Conflict use cases: list, resolve (one or in bulk), follow new detections, and queue what a resolution applies."""
