"""Actions (action.py), auth functions (auth.py), navl schemas (schema.py)
and validators (validators.py) of the dataviz plugin."""
