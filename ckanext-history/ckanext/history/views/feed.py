"""History tab and feed form on the resource page."""
