"""Routes of charts and view embeds (added to the dataviz blueprint)."""
