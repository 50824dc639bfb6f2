"""Download routes of the history plugin."""
