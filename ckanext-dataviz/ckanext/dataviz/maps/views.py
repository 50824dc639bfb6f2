"""Routes of saved maps, the map builder and their embeds (added to the dataviz blueprint)."""
