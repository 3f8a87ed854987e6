"""Streaming imports of attributes and products from JSON Lines or Akeneo's flat CSV export."""
