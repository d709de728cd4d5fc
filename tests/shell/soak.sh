#!/bin/bash
# The short soak of make check (tests/soak/soak.sh): 25 s (IPCFS_SOAK_SECS)
# of traffic with member and daemon kills, after 2000 join/leave cycles.
export SOAK_CYCLES=${SOAK_CYCLES:-2000}
exec bash "$(dirname "$0")/../soak/soak.sh" "${IPCFS_SOAK_SECS:-25}"
