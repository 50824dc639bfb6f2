# Shortcuts to ./portal, for those who prefer make.
.PHONY: run test up stop wipe status token bench bench-dataviz
run test up stop wipe status token bench bench-dataviz:
	./portal $@
