"""Harvesters of commune portals (OpenDataSoft, udata, CKAN)."""
