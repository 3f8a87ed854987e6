"""pimsync: keeps sales channels in step with a multi-locale PIM catalog."""
