#!/usr/bin/env bash
# Contract §9 under chaos (issue 13, "every guarantee across instances"): the bounded chaos run
# (tests/chaos/chaos.sh --short) with three serve instances on one PostgreSQL schema. The
# locations' notifications go to different instances, instances are SIGKILLed and restarted,
# PostgreSQL crashes (immediate stop) and comes back, leases move the trackers and syncs; at
# the end the mirror equals vppsim's state in every table. A cluster of its own (it is
# crashed), not the suite's; `make chaos BACKEND=postgresql` runs the long version.
set -euo pipefail
export CHAOS_BACKEND=postgresql
export CHAOS_OPS=${CHAOS_OPS:-240}
exec bash "$(dirname "$0")/../chaos/chaos.sh" --short
