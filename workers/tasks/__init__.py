"""One task per module; tasks take primitive keyword arguments and call services."""
