#!/usr/bin/env bash
# Measures the local stack against its budgets (not a test: a timing script).
#
#   scripts/measure-stack.sh          # first run from wiped data, then a second run
#   scripts/measure-stack.sh --all    # first run from nothing (software too), then a second run
#
# Prints the seconds until the portal answers, and the resident memory of the
# stack's processes at rest. Budgets: first run < 600 s on a fresh machine,
# second run < 60 s, memory < 2048 MB.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${PORTAL_STATE_DIR:-$ROOT/.stack}

timed_run() {
  local start end
  start=$(date +%s)
  "$ROOT/portal" run >/dev/null
  end=$(date +%s)
  echo $((end - start))
}

"$ROOT/portal" wipe ${1:-} >/dev/null
first=$(timed_run)
second=$(timed_run)
sleep 5
# Resident memory of every process of the stack: PostgreSQL (proportional set
# size, so shared buffers count once), Redis, Solr, CKAN web and workers.
mem=$(python3 - "$STATE" <<'PY'
import os, sys
state = sys.argv[1]
def ppid(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]

ours = set()
for name in ("redis.pid",):
    try:
        ours.add(open(os.path.join(state, "run", name)).read().strip())
    except OSError:
        pass
pids = [p for p in os.listdir("/proc") if p.isdigit()]
for pid in pids:
    try:
        if state.encode() in open(f"/proc/{pid}/cmdline", "rb").read():
            ours.add(pid)
    except OSError:
        pass
# PostgreSQL's backends are children of the postmaster, which names the state folder.
ours |= {p for p in pids if os.path.exists(f"/proc/{p}") and ppid(p) in ours}
total = 0
for pid in ours:
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    except OSError:
        continue
print(total // 1024)
PY
)
printf 'first run (%s): %s s (budget 600)\n' "${1:-data wiped}" "$first"
printf 'second run: %s s (budget 60)\n' "$second"
printf 'stack at rest: %s MB proportional resident memory (budget 2048)\n' "$mem"
