# Shortcuts to ./portal, for those who prefer make.
.PHONY: run test up stop wipe status token bench bench-history
run test up stop wipe status token bench:
	./portal $@

# The history store against the DataStore (bench/history.py --help).
bench-history:
	./portal bench-history
