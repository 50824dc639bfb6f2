# Shortcuts to ./portal, for those who prefer make.
.PHONY: run test tour up stop wipe status token bench bench-dataviz bench-history
run test tour up stop wipe status token bench bench-dataviz:
	./portal $@

# The history store against the DataStore (bench/history.py --help).
bench-history:
	./portal bench-history
